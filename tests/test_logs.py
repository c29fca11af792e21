"""Logs are one JSON object a line, carrying the request id of the request being served."""

from __future__ import annotations

import json
import logging

from codesvc.logs import JsonFormatter, request_id


def test_a_log_line_is_json_with_the_request_id_and_extra_fields():
    record = logging.LogRecord("codesvc.http", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.status = 200
    token = request_id.set("req-7")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id.reset(token)
    entry = json.loads(line)
    assert entry["msg"] == "GET /x"
    assert entry["request_id"] == "req-7"
    assert entry["status"] == 200
    assert entry["level"] == "info"
    assert entry["ts"].endswith("Z")


async def test_a_failed_request_is_logged_with_its_request_id(api, caplog):
    caplog.set_level(logging.INFO, logger="codesvc.http")
    resp = await api.client.get("/v1/whoami", headers={"X-Request-Id": "door-9"})
    assert resp.status == 401
    lines = [r for r in caplog.records if r.name == "codesvc.http"]
    assert any(getattr(r, "status", None) == 401 for r in lines)
    formatted = [json.loads(JsonFormatter().format(r)) for r in lines]
    assert any(
        entry.get("route") == "/v1/whoami" and entry.get("request_id") == "door-9"
        for entry in formatted
    )
