"""The story from the city's message board, end to end through HTTP (issue 5, "Done means").

A person comes back from a district that was not risky; a district report says they came
from a medium-risk area; their code turns yellow; they appeal; the district that made the
report verifies and corrects it; the code turns green; and their history shows both what
was shown and what was right, with the appeal as the cause.
"""

from __future__ import annotations

from datetime import timedelta

from codesvc.service.audit_log import verify_audit
from codesvc.state.events import parse_time
from tests.builders import ago, event, id_number

HUANGPU, XUHUI, CHANGNING = "310101", "310104", "310105"


async def test_a_wrong_district_report_is_appealed_corrected_and_shown_both_ways(city, conn):
    api = city.api
    await city.list_area("440306", "medium", ago(days=14).isoformat())
    resp = await city.client.post(
        "/v1/persons",
        json={
            "id_number": id_number(HUANGPU),
            "name": "王芳",
            "district": HUANGPU,
            "phone": "13800138000",
        },
        headers=city.feeder,
    )
    ref = (await resp.json())["person_ref"]
    me = api.auth("citizen", ref)

    # Xuhui's reporting system records an arrival from Shenzhen Bao'an (medium risk).
    xuhui_reporter = api.auth("staff", "xuhui-reporting", XUHUI)
    report = event(
        "travel.arrival",
        ago(hours=30),
        {"person_ref": ref},
        area_code="440306",
        source="district_report",
    )
    [result] = await city.send(report, headers=xuhui_reporter)
    assert result["status"] == "accepted"
    status = await city.status(ref, lang="en")
    assert status["color"] == "yellow"
    [r1] = [r for r in status["reasons"] if r["rule"] == "R1"]
    assert r1["event_id"] == report["event_id"]

    # The citizen appeals, naming the arrival shown with the reason.
    resp = await city.client.post(
        "/v1/appeals",
        json={
            "category": "wrong_travel_record",
            "description": "I came back from Chengdu, not Shenzhen; my ticket is attached.",
            "disputed_event_id": r1["event_id"],
            "evidence": {"ticket": "G1234 成都东-上海虹桥"},
        },
        headers=me,
    )
    assert resp.status == 201, await resp.text()
    filed = await resp.json()
    appeal_id = filed["appeal_id"]
    assert filed["status"] == "submitted"
    assert filed["district"] == XUHUI  # the district that made the report works it
    assert parse_time(filed["due_at"]) - parse_time(filed["filed_at"]) == timedelta(hours=24)

    # Another district's staff see neither the appeal nor the person.
    changning = api.auth("staff", "cn-officer", CHANGNING)
    assert (await city.client.get(f"/v1/appeals/{appeal_id}", headers=changning)).status == 404
    assert (await city.client.get(f"/v1/persons/{ref}/status", headers=changning)).status == 404

    # Xuhui verifies: the appeal is in its queue, and the person's record is open to it.
    officer = api.auth("staff", "xh-officer-7", XUHUI)
    queue = await (await city.client.get("/v1/appeals", headers=officer)).json()
    assert [a["appeal_id"] for a in queue["appeals"]] == [appeal_id]
    assert (await city.client.get(f"/v1/persons/{ref}/history", headers=officer)).status == 200
    resp = await city.client.post(f"/v1/appeals/{appeal_id}/claim", headers=officer)
    assert resp.status == 200
    assert (await resp.json())["status"] == "in_review"
    resp = await city.client.post(
        f"/v1/appeals/{appeal_id}/notes",
        json={"text": "Railway manifest confirms G1234 from Chengdu.", "visibility": "internal"},
        headers=officer,
    )
    assert resp.status == 201
    resp = await city.client.post(
        f"/v1/appeals/{appeal_id}/resolve",
        json={
            "outcome": "corrected",
            "note": "Our report named the wrong origin; the arrival is removed.",
            "corrections": {"void": [report["event_id"]]},
        },
        headers=officer,
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "corrected"

    # Green again, with nothing left to explain.
    status = await city.status(ref)
    assert status["color"] == "green"
    assert status["reasons"] == []

    # What was right: the yellow is superseded by the appeal, and green stands alone.
    history = await city.history(ref)
    yellow = [i for i in history if i["color"] == "yellow"]
    assert yellow
    assert all(i["superseded_by"] == f"appeal:{appeal_id}" for i in yellow)
    assert all(i["superseded_at"] is not None for i in yellow)
    believed = [i for i in history if i["superseded_at"] is None]
    assert [(i["color"], i["to"]) for i in believed] == [("green", None)]

    # What was shown: the yellow the citizen saw until the correction, then green.
    shown = await city.history(ref, as_shown=True)
    assert [i["color"] for i in shown][-2:] == ["yellow", "green"]

    # The citizen follows it: the office, the decision, no officer's name, no internal note.
    mine = await (await city.client.get("/v1/me/appeals", headers=me)).json()
    [appeal] = mine["appeals"]
    assert appeal["status"] == "corrected"
    assert appeal["outcome_note"].startswith("Our report named the wrong origin")
    assert appeal["handled_by"] == f"district {XUHUI}"
    assert appeal["notes"] == []
    assert "xh-officer-7" not in str(appeal)

    # They were told each step, and the audit chain records who looked and who changed what.
    notes = await (await city.client.get("/v1/me/notifications", headers=me)).json()
    told = [
        (n["kind"], n["detail"].get("after") or n["detail"].get("to"))
        for n in notes["notifications"]
    ]
    assert told[:3] == [
        ("appeal_changed", "corrected"),
        ("color_changed", "green"),
        ("appeal_changed", "in_review"),
    ]
    assert ("color_changed", "yellow") in told
    trail = await city.client.get(f"/v1/audit?person_ref={ref}", headers=city.commission)
    actions = [e["action"] for e in (await trail.json())["entries"]]
    assert actions[:7] == [
        "events.sent",  # the district's report, made by hand
        "appeal.file",
        "appeal.list",
        "person.read",
        "appeal.claim",
        "appeal.note",
        "appeal.correct",
    ]
    assert await verify_audit(conn) == []
