"""The served schema is the enforced one: for every operation of /openapi.json that takes a
body, bodies the served schema accepts are not refused for their shape, and bodies it
refuses are refused by the service, with a 422 (or, for an event, a rejected answer).

Bodies are generated from the served document itself (schemathesis' generator, positive
and negative), judged by a JSON Schema validator against that document, and handed to
exactly the model the route reads its body with. Some checks are beyond any JSON Schema
(a check digit, valid_to not before valid_from); those are *rules* (error type ``rule``),
documented in the field's description, and the only refusals a valid body may get.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import orjson
import pydantic
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from codesvc.api.app import ROUTES
from codesvc.api.routing import Operation
from codesvc.api.scans import ScanByCode, ScanIn, _plain_code
from codesvc.schemas.events import EVENT, EventBatch
from codesvc.schemas.fields import RULE

#: Path parameters of the right shape (they name nothing: a body is read before any lookup).
PATHS = {
    "area_code": "310101",
    "appeal_id": "a_000000000000",
    "override_id": "o_000000000000",
    "venue_id": "venue-1",
    "person_ref": "p_HNR2ZRX5PEQD",
}
EXAMPLES = settings(
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    """The document as the service serves it (built by the same call create_app makes)."""
    from codesvc.api.openapi import document

    return orjson.loads(orjson.dumps(document(op for r in ROUTES for op in r.operations)))


def operations_with_bodies() -> list[Operation]:
    return [op for routes in ROUTES for op in routes.operations if op.body is not None]


async def test_the_document_is_what_the_app_serves(api, served: dict[str, Any]) -> None:
    """The document these tests read is the one at /openapi.json."""
    resp = await api.client.get("/openapi.json")
    assert resp.status == 200
    assert orjson.loads(await resp.read()) == served


def _validator(served: dict[str, Any], op: Operation) -> jsonschema_rs.Validator:
    schema = served["paths"][op.path][op.method.lower()]["requestBody"]["content"]
    root = {"$ref": schema["application/json"]["schema"]["$ref"], **served}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def _shape_errors(op: Operation, body: object) -> list[str]:
    """What the route's own body model says about ``body`` that is not a rule."""
    assert op.body is not None
    try:
        parsed = op.body.model_validate(body)
    except pydantic.ValidationError as exc:
        return [f"{e['loc']}: {e['msg']}" for e in exc.errors() if e["type"] != RULE]
    found: list[str] = []
    if isinstance(parsed, EventBatch):  # each event is answered on its own, by EventIn
        for index, item in enumerate(parsed.events):
            if item.sent is None:
                assert isinstance(body, dict)
                try:
                    EVENT.validate_python(body["events"][index])
                except pydantic.ValidationError as exc:
                    found += [
                        f"events.{index}: {e['msg']}" for e in exc.errors() if e["type"] != RULE
                    ]
    return found


def _bodies(served: dict[str, Any], op: Operation, mode: GenerationMode) -> st.SearchStrategy[Any]:
    operation = schemathesis.openapi.from_dict(served)[op.path][op.method]
    names = [p["name"] for p in served["paths"][op.path][op.method.lower()].get("parameters", ())]
    path = {name: PATHS[name] for name in names if name in PATHS}
    cases = operation.as_strategy(mode, path_parameters=path, query={}, headers={})
    return cases.map(lambda case: case.body)


OPERATIONS = operations_with_bodies()
IDS = [f"{op.method} {op.path}" for op in OPERATIONS]


def test_every_body_taking_operation_is_covered(served: dict[str, Any]) -> None:
    documented = {
        f"{method.upper()} {path}"
        for path, item in served["paths"].items()
        for method, doc in item.items()
        if "requestBody" in doc
    }
    assert documented == set(IDS)
    assert len(IDS) >= 12


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_what_the_schema_accepts_is_not_refused_for_its_shape(
    op: Operation, served: dict[str, Any]
) -> None:
    valid = _validator(served, op)

    @EXAMPLES
    @given(_bodies(served, op, GenerationMode.POSITIVE))
    def check(body: Any) -> None:
        assume(isinstance(body, dict))
        assert valid.is_valid(body), body
        assert _shape_errors(op, body) == [], body

    check()


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_what_the_schema_refuses_is_refused(op: Operation, served: dict[str, Any]) -> None:
    valid = _validator(served, op)

    @EXAMPLES
    @given(_bodies(served, op, GenerationMode.NEGATIVE))
    def check(body: Any) -> None:
        assume(isinstance(body, dict) and not valid.is_valid(body))
        assert _shape_errors(op, body) != [], body

    check()


@EXAMPLES
@given(
    st.dictionaries(
        st.sampled_from(["code", "id_number", "other"]),
        st.one_of(st.text(max_size=20), st.integers(), st.none(), st.text(min_size=2040)),
        max_size=2,
    )
)
def test_the_doors_shortcut_reads_a_body_as_its_model_does(body: dict[str, Any]) -> None:
    """The door reads the common body without building the model; it must agree with it."""
    raw = json.dumps(body).encode()  # what a client may send, integers past 64 bits included
    code = _plain_code(raw)
    if code is not None:
        assert ScanIn.model_validate(body).root == ScanByCode(code=code)
    elif set(body) == {"code"}:
        with pytest.raises(pydantic.ValidationError):
            ScanIn.model_validate(body)


@pytest.mark.parametrize(
    "query", ["dry_run=", "dry_run=yes", "dry_run=true&dry_run=false", "dryrun=true"]
)
async def test_a_query_string_is_read_strictly(api, query: str) -> None:
    """A flag that is not plainly true or false, or a misspelt one, never applies a change."""
    body = {"level": "high", "valid_from": "2022-02-01T00:00:00+08:00"}
    resp = await api.client.put(
        f"/v1/risk-areas/440306?{query}", json=body, headers=api.auth("commission", "c-1")
    )
    assert resp.status == 422, await resp.text()
    assert resp.content_type == "application/problem+json"
    listed = await api.client.get("/v1/risk-areas", headers=api.auth("commission", "c-1"))
    assert (await listed.json())["listings"] == []
