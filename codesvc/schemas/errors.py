"""What a sender reads when a request does not fit its model: one message per field path."""

from __future__ import annotations

from collections.abc import Iterable

import pydantic
from pydantic_core import ErrorDetails

from codesvc.messages import joined, t
from codesvc.schemas.fields import PATTERN_MESSAGES, RULE

#: Names of union branches (``Tag``) that pydantic puts in an error's location; a sender
#: knows fields, not branches, so they are left out of the path.
BRANCHES: set[str] = set()


def field_errors(exc: pydantic.ValidationError, prefix: str = "") -> dict[str, str]:
    """One message per field path, e.g. ``{"events.3.data.area_code": "must be ..."}``."""
    return messages(exc.errors(include_url=False), prefix)


def messages(errors: Iterable[ErrorDetails], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for error in errors:
        path = [str(part) for part in error["loc"] if part not in BRANCHES]
        where, text = _message(error, path)
        found.setdefault(prefix + (".".join(where) or "body"), text)
    return found


def summary(errors: dict[str, str], most: int = 3) -> str:
    """The first few field errors in one line, for a problem's ``detail``."""
    return joined("; ", [t("{path}: {problem}", path=path, problem=text)
                         for path, text in list(errors.items())[:most]])  # fmt: skip


#: Errors whose message needs no values.
_PLAIN = {
    "missing": t("is required"),
    "extra_forbidden": t("unknown field"),
    "string_too_short": t("must not be empty"),
    "model_type": t("must be a JSON object"),
    "model_attributes_type": t("must be a JSON object"),
    "dict_type": t("must be a JSON object"),
    "bool_parsing": t("must be true or false"),
}


def _message(error: ErrorDetails, path: list[str]) -> tuple[list[str], str]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _PLAIN:
        return path, _PLAIN[kind]
    if kind == "string_pattern_mismatch":
        return path, PATTERN_MESSAGES.get(str(ctx.get("pattern")), error["msg"])
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return path, t("must be one of {options}", options=expected)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return [*path, field], t("must be one of {options}", options=tags)
    if kind == "string_too_long":
        return path, t("must have at most {most} characters", most=ctx.get("max_length"))
    if kind == "too_long":
        return path, t("must have at most {most} items", most=ctx.get("max_length"))
    if kind == "too_short":
        return path, t("must have at least {least} item(s)", least=ctx.get("min_length"))
    if kind == "int_parsing" and "low" in ctx:
        return path, t("must be a whole number from {low} to {high}", low=ctx["low"],
                       high=ctx["high"])  # fmt: skip
    if kind == RULE and isinstance(ctx.get("problem"), str):
        return path, ctx["problem"]
    return path, error["msg"].removeprefix("Value error, ")
