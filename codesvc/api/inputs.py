"""Text from outside, checked in one place: no NUL, nothing that was not UTF-8.

PostgreSQL cannot store NUL in text, and bytes that were not UTF-8 reach Python as lone
surrogates that no encoder takes back; either would surface deep inside as a 500. So
they are refused at the edge: the path and query parameters a route declares
(`check_request`, called by `codesvc.api.routing` before the models read them),
every string of a JSON body, keys included (`json_document`), and the bearer token
(`codesvc.api.auth`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from codesvc.api.problems import Problem
from codesvc.messages import t

#: NUL, and the surrogates that bytes which were not UTF-8 decode to.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: In a path or query, no control character at all: identifiers and codes have none.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def check_request(params: Mapping[str, str], query: Mapping[str, str]) -> None:
    """Refuse path or query parameters carrying a control character or non-UTF-8 bytes:
    422, naming each (identifiers and codes have no control characters)."""
    bad = [
        _UNPRINTABLE.sub("?", name)
        for values in (params, query)
        for name, value in values.items()
        if _UNPRINTABLE.search(name) or _UNPRINTABLE.search(value)
    ]
    if bad:
        raise Problem(
            422,
            t("These parameters hold a control character or bytes that are not UTF-8: "
              "{names}.", names=", ".join(bad)),
            errors={name: t("holds a control character or bytes that are not UTF-8")
                    for name in bad},
        )  # fmt: skip


def json_document(raw: bytes) -> object:
    """``raw`` as JSON: 400 if it is not JSON, 422 naming each string that holds NUL."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, t("The body is not valid JSON: {error}.", error=str(exc))) from None
    if b"\\u0000" not in raw:
        # JSON can carry NUL only as that escape (orjson refuses lone surrogates and raw
        # control characters), so nearly every body needs no walk.
        return data
    found: dict[str, object] = {}
    _unstorable(data, "", found)
    if found:
        raise Problem(
            422,
            t("Text may not hold the NUL character: {fields}.", fields=", ".join(found)),
            errors={path: t("holds the NUL character") for path in found},
        )
    return data


def _unstorable(value: object, path: str, found: dict[str, object]) -> None:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            found[path or "body"] = None
    elif isinstance(value, dict):
        for key, item in value.items():
            where = (path + "." if path else "") + _UNSTORABLE.sub("?", key)
            if _UNSTORABLE.search(key):
                found[where] = None
            _unstorable(item, where, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _unstorable(item, f"{path}.{index}" if path else str(index), found)
