"""What a sender reads when a request does not fit its model: one message per field path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pydantic
from pydantic_core import ErrorDetails

from codesvc.messages import Text, joined, t
from codesvc.schemas.fields import PATTERN_MESSAGES, RULE

#: Names of union branches (``Tag``) that pydantic puts in an error's location; a sender
#: knows fields, not branches, so they are left out of the path.
BRANCHES: set[str] = set()


def field_errors(exc: pydantic.ValidationError, prefix: str = "") -> dict[str, Text]:
    """One message per field path, e.g. ``{"events.3.data.area_code": "must be ..."}``."""
    return messages(exc.errors(include_url=False), prefix)


def messages(errors: Iterable[ErrorDetails], prefix: str = "") -> dict[str, Text]:
    found: dict[str, Text] = {}
    for error in errors:
        path = [str(part) for part in error["loc"] if part not in BRANCHES]
        where, text = _message(error, path)
        found.setdefault(prefix + (".".join(where) or "body"), text)
    return found


def summary(errors: Mapping[str, Text], most: int = 3) -> Text:
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
    "bool_type": t("must be true or false"),
    "string_type": t("must be text"),
    "int_type": t("must be a whole number"),
    "int_parsing": t("must be a whole number"),
    "int_from_float": t("must be a whole number"),
    "float_type": t("must be a number"),
    "float_parsing": t("must be a number"),
    "list_type": t("must be a list"),
    "json_invalid": t("is not valid JSON"),
    # the shapes and parsers of this service's own models
    "person_shape": t("must be an object with person_ref or id_number"),
    "scan_shape": t("send exactly one of code or id_number"),
    "date_parsing": t("name the day as YYYY-MM-DD, e.g. 2022-04-01"),
}


def _message(error: ErrorDetails, path: list[str]) -> tuple[list[str], Text]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _PLAIN:
        return path, _PLAIN[kind]
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return path, PATTERN_MESSAGES.get(pattern) or t("must match {pattern}", pattern=pattern)
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
    if (bounded := _bound(kind, ctx)) is not None:
        return path, bounded
    if kind == RULE and isinstance(ctx.get("problem"), Text):
        return path, ctx["problem"]
    # A check of pydantic's this service does not use: its own words, marked as such.
    return path, t("is not valid ({why})", why=error["msg"].removeprefix("Value error, "))


def _bound(kind: str, ctx: dict[str, object]) -> Text | None:
    """A number out of its range, when pydantic says which bound."""
    if kind == "greater_than_equal" and "ge" in ctx:
        return t("must be at least {limit}", limit=ctx["ge"])
    if kind == "less_than_equal" and "le" in ctx:
        return t("must be at most {limit}", limit=ctx["le"])
    if kind == "greater_than" and "gt" in ctx:
        return t("must be more than {limit}", limit=ctx["gt"])
    if kind == "less_than" and "lt" in ctx:
        return t("must be less than {limit}", limit=ctx["lt"])
    return None
