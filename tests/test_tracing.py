"""Contact tracing reads the scan records: a person's scans, a venue's scans on a day."""

from __future__ import annotations

from datetime import datetime

from codesvc.state.explain import CITY_ZONE
from tests.test_scans import code_of, register, scan


async def _scanned(api, venue: str, ref: str) -> str:
    resp = await scan(api, venue, code=await code_of(api, ref))
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["scan_id"])


async def test_where_a_person_was_scanned_is_read_by_their_district_and_audited(api):
    ref, _ = await register(api, "李四")
    other, _ = await register(api, "王五")
    first = await _scanned(api, "cafe-1", ref)
    second = await _scanned(api, "metro-2", ref)
    await _scanned(api, "cafe-1", other)

    resp = await api.client.get(f"/v1/persons/{ref}/scans", headers=api.auth("staff", "s1"))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [(s["scan_id"], s["venue"]) for s in body["scans"]] == [
        (first, "cafe-1"),
        (second, "metro-2"),
    ]
    assert {s["person_ref"] for s in body["scans"]} == {ref}

    audit = await api.client.get(
        f"/v1/audit?person_ref={ref}", headers=api.auth("commission", "c1")
    )
    reads = [(e["actor_sub"], e["subject"]) for e in (await audit.json())["entries"]]
    assert ("s1", "scans") in reads

    # Another district's officer cannot tell whether the person exists.
    resp = await api.client.get(
        f"/v1/persons/{ref}/scans", headers=api.auth("staff", "s2", "310115")
    )
    assert resp.status == 404
    # A citizen or a scanner may not trace.
    resp = await api.client.get(f"/v1/persons/{ref}/scans", headers=api.auth("citizen", ref))
    assert resp.status == 403


async def test_who_was_at_a_venue_on_a_day_pages_through_the_days_scans(api):
    refs = [(await register(api, f"张{n}"))[0] for n in range(3)]
    for ref in refs:
        await _scanned(api, "gym-9", ref)
    await _scanned(api, "gym-10", refs[0])
    today = datetime.now(CITY_ZONE).date().isoformat()
    commission = api.auth("commission", "tracer-1")

    seen = []
    after = None
    while True:
        query = f"/v1/venues/gym-9/scans?day={today}&limit=2" + (f"&after={after}" if after else "")
        resp = await api.client.get(query, headers=commission)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        seen += [s["person_ref"] for s in body["scans"]]
        after = body["next_after"]
        if after is None:
            break
    assert sorted(seen) == sorted(refs)

    resp = await api.client.get("/v1/venues/gym-9/scans?day=2000-01-01", headers=commission)
    assert (await resp.json())["scans"] == []
    for bad in ("day=yesterday", "day=2022-02-30", f"day={today}&after=nonsense"):
        resp = await api.client.get(f"/v1/venues/gym-9/scans?{bad}", headers=commission)
        assert resp.status == 422, bad
    resp = await api.client.get(f"/v1/venues/gym%00/scans?day={today}", headers=commission)
    assert resp.status == 422
    resp = await api.client.get(
        f"/v1/venues/gym-9/scans?day={today}", headers=api.auth("staff", "s1")
    )
    assert resp.status == 403
