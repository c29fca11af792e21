"""Every input an attacker found gives a clear 4xx problem, never a 500 (issue: trust).

Each case is sent as the role that may call the route, so the request reaches the
handler: NUL in text of every kind, NUL and newline in path and query parameters,
numbers past a database integer, and input the service once let slip through.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesvc.api.inputs import json_document
from codesvc.api.problems import Problem
from tests.builders import ago, event, id_number, negative
from tests.conftest import City

NUL = "a\u0000b"
PROBLEM = "application/problem+json"


async def refused(resp, *statuses: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    text = await resp.text()
    assert resp.status in (statuses or (400, 404, 422)), text
    assert resp.content_type == PROBLEM, text
    body: dict[str, Any] = await resp.json()
    assert body["detail"]
    return body


async def filed_appeal(city: City) -> tuple[str, str]:
    ref = await city.register()
    arrival = event("travel.arrival", ago(hours=30), {"person_ref": ref}, area_code="440306",
                    source="district_report")  # fmt: skip
    await city.send(arrival)
    resp = await city.client.post(
        "/v1/appeals",
        json={
            "category": "other",
            "description": "wrong",
            "disputed_event_id": arrival["event_id"],
        },
        headers=city.api.auth("citizen", ref),
    )
    assert resp.status == 201, await resp.text()
    return ref, (await resp.json())["appeal_id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data.lab_id", NUL),
        ("data.sample_id", NUL),
        ("person.person_ref", "p_" + NUL),
        ("person.name", NUL),
        ("person.name", "名" * 101),
        ("person.district", "310101\n"),
        ("person.district", "3101\u00001"),
    ],
)
async def test_events_refuse_nul_long_and_ragged_text(city, conn, field: str, value: str):
    ref = await city.register()
    sent = negative(ago(hours=2), {"id_number": id_number()})
    if field == "person.person_ref":
        sent["person"] = {"person_ref": value}
    else:
        part, name = field.split(".")
        sent[part] = {**sent[part], name: value}
    resp = await city.client.post("/v1/events", json={"events": [sent]}, headers=city.feeder)
    assert resp.status in (200, 422), await resp.text()
    if resp.status == 200:
        [result] = (await resp.json())["results"]
        assert result["status"] == "rejected", result
    assert await conn.fetchval("SELECT count(*) FROM events") == 0
    assert await conn.fetchval("SELECT count(*) FROM persons") == 1  # only ``ref``
    assert ref


async def test_designations_and_lab_records_refuse_nul(city, conn):
    ref = await city.register()
    designation = event("contact.designated", ago(hours=2), {"person_ref": ref}, level="close",
                        case_ref=NUL)  # fmt: skip
    unlinked = event("test.result", ago(hours=2), None, result="positive", lab_id="l",
                     sample_id="s", name=NUL, phone="13800138000")  # fmt: skip
    resp = await city.client.post(
        "/v1/events", json={"events": [designation, unlinked]}, headers=city.commission
    )
    if resp.status == 200:
        assert [r["status"] for r in (await resp.json())["results"]] == ["rejected"] * 2
    else:
        await refused(resp, 422)
    assert await conn.fetchval("SELECT count(*) FROM events") == 0


async def test_registration_refuses_nul(city):
    resp = await city.client.post(
        "/v1/persons",
        json={"id_number": id_number(), "name": NUL, "district": "310101"},
        headers=city.feeder,
    )
    await refused(resp, 422)


async def test_appeal_texts_refuse_nul(city):
    ref, appeal_id = await filed_appeal(city)
    citizen = city.api.auth("citizen", ref)
    bodies = (
        {"category": "other", "description": NUL},
        {"category": "other", "description": "x", "evidence": {"lab_id": NUL}},
    )
    for body in bodies:
        await refused(await city.client.post("/v1/appeals", json=body, headers=citizen), 422)
    staff = city.api.auth("staff", "hp-officer", "310101")
    path = f"/v1/appeals/{appeal_id}"
    assert (await city.client.post(path + "/claim", headers=staff)).status == 200
    for action, body in (
        ("/notes", {"text": NUL}),
        ("/escalate", {"note": NUL}),
        ("/resolve", {"outcome": "upheld", "note": NUL}),
    ):
        await refused(await city.client.post(path + action, json=body, headers=staff), 422)


async def test_override_and_venue_reasons_refuse_nul(city):
    ref = await city.register()
    body = {"person_ref": ref, "color": "red", "reason": NUL}
    resp = await city.client.post("/v1/overrides", json=body, headers=city.commission)
    await refused(resp, 422)
    resp = await city.client.post(
        "/v1/venues/v-1/revoke", json={"reason": NUL}, headers=city.commission
    )
    await refused(resp, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/persons/p_A%00B/status",
        "/v1/persons/p_A%00B/history",
        "/v1/appeals/a_%00",
        "/v1/audit?person_ref=p_%00",
        "/v1/overrides/o_%00/approve",
        "/v1/venues/v%00/revoke",
        "/v1/venues/v%00/scans",
        "/v1/appeals?status=%00",
        "/v1/risk-areas?area_code=3101%000",
    ],
)
async def test_nul_in_paths_and_queries_is_refused(city, path: str):
    method = "POST" if path.endswith(("approve", "revoke")) else "GET"
    body = {"reason": "r"} if path.endswith("revoke") else None
    resp = await city.client.request(method, path, json=body, headers=city.commission)
    await refused(resp, 422)


async def test_a_code_followed_by_a_newline_is_no_code(city, conn):
    resp = await city.client.put(
        "/v1/risk-areas/310101%0A?dry_run=true",
        json={"level": "high", "valid_from": ago(days=1).isoformat()},
        headers=city.commission,
    )
    await refused(resp, 422)
    resp = await city.client.put(
        "/v1/risk-areas/310101%0A",
        json={"level": "high", "valid_from": ago(days=1).isoformat()},
        headers=city.commission,
    )
    await refused(resp, 422)
    assert await conn.fetchval("SELECT count(*) FROM risk_listings") == 0


@pytest.mark.parametrize("flag", ["", "yes", "TRUE1", "%00"])
async def test_dry_run_takes_true_or_false_only(city, conn, flag: str):
    resp = await city.client.put(
        f"/v1/risk-areas/310101?dry_run={flag}",
        json={"level": "high", "valid_from": ago(days=1).isoformat()},
        headers=city.commission,
    )
    await refused(resp, 422)
    assert await conn.fetchval("SELECT count(*) FROM risk_listings") == 0


@pytest.mark.parametrize("up_to", [2**63, 2**64, 10**30, -1])
async def test_notification_marks_stay_within_a_database_integer(city, up_to: int):
    ref = await city.register()
    resp = await city.client.post(
        "/v1/me/notifications/read", json={"up_to": up_to}, headers=city.api.auth("citizen", ref)
    )
    await refused(resp, 422)


async def test_a_huge_token_gets_a_problem(api):
    resp = await api.client.get(
        "/v1/whoami", headers={"Authorization": "Bearer " + "a" * (1024 * 1024)}
    )
    assert resp.status == 431
    assert resp.content_type == PROBLEM
    assert "a" * 100 not in await resp.text()


async def test_unknown_ids_of_the_right_shape_are_not_found(city):
    resp = await city.client.get(f"/v1/appeals/a_{uuid.uuid4().hex[:12]}", headers=city.commission)
    await refused(resp, 404)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(codec="utf-8"), max_size=4), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any("\0" in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


@given(_JSON, st.booleans())
def test_a_body_is_refused_exactly_when_some_text_holds_nul(
    value: object, ascii_only: bool
) -> None:
    """However a client encodes it (escaped or raw UTF-8), NUL anywhere is refused, and
    nothing else is: the quick look at the bytes agrees with walking the document."""
    raw = json.dumps(value, ensure_ascii=ascii).encode()
    if _holds_nul(value):
        with pytest.raises(Problem) as refused_nul:
            json_document(raw)
        assert refused_nul.value.status == 422
    else:
        assert json_document(raw) == value
