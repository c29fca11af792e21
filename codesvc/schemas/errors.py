"""What a sender reads when a request does not fit its model: one message per field path."""

from __future__ import annotations

from collections.abc import Iterable

import pydantic
from pydantic_core import ErrorDetails

from codesvc.schemas.fields import PATTERN_MESSAGES

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
    return "; ".join(f"{path}: {text}" for path, text in list(errors.items())[:most])


def _message(error: ErrorDetails, path: list[str]) -> tuple[list[str], str]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return path, "is required"
    if kind == "extra_forbidden":
        return path, "unknown field"
    if kind == "string_pattern_mismatch":
        return path, PATTERN_MESSAGES.get(str(ctx.get("pattern")), error["msg"])
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return path, f"must be one of {expected}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return [*path, field], f"must be one of {tags}"
    if kind == "string_too_long":
        return path, f"must have at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return path, "must not be empty"
    if kind == "too_long":
        return path, f"must have at most {ctx.get('max_length')} items"
    if kind == "too_short":
        return path, f"must have at least {ctx.get('min_length')} item(s)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, "must be a JSON object"
    return path, error["msg"].removeprefix("Value error, ")
