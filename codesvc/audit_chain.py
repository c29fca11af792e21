"""The tamper-evident audit log: entries chained by SHA-256 so an edit or removal shows (SPEC §6).

Each entry's hash covers the previous entry's hash and a canonical JSON of the entry,
so the chain can be checked by anyone holding the entries, without a key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NamedTuple

__all__ = [
    "GENESIS",
    "AuditEntry",
    "Chained",
    "canonical_json",
    "chain",
    "entry_hash",
    "verify_chain",
]

#: The "previous hash" of the first entry.
GENESIS: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited read or change: who did what, to whose data, when.

    `detail` holds JSON values only (text, whole numbers, booleans, null, lists, objects):
    floats and other types are refused because they would not hash the same after a
    round trip through the database.
    """

    seq: int
    at: datetime
    actor_role: str
    actor_sub: str
    action: str
    person_ref: str | None
    subject: str | None
    detail: Mapping[str, object] = field(default_factory=dict)


class Chained(NamedTuple):
    """An entry with the hash it follows and its own hash, as stored."""

    entry: AuditEntry
    prev_hash: str
    hash: str


def _rfc3339(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit times must carry a UTC offset")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _json_value(value: object, where: str) -> object:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit detail {where}: keys must be text, got {key!r}")
            out[key] = _json_value(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(
        f"audit detail {where}: {type(value).__name__} is not hashable stably; "
        "store text, whole numbers, booleans, null, lists or objects"
    )


def canonical_json(entry: AuditEntry) -> str:
    """The entry as JSON with sorted keys, no whitespace and UTC times: what is hashed."""
    document = {
        "seq": entry.seq,
        "at": _rfc3339(entry.at),
        "actor_role": entry.actor_role,
        "actor_sub": entry.actor_sub,
        "action": entry.action,
        "person_ref": entry.person_ref,
        "subject": entry.subject,
        "detail": _json_value(entry.detail, "detail"),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    """Hex SHA-256 over the previous hash followed by the entry's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical_json(entry)).encode()).hexdigest()


def chain(entries: Iterable[AuditEntry], prev_hash: str = GENESIS) -> list[Chained]:
    """Link entries in the given order, continuing from `prev_hash`."""
    linked = []
    for entry in entries:
        own = entry_hash(prev_hash, entry)
        linked.append(Chained(entry, prev_hash, own))
        prev_hash = own
    return linked


def _problems_at(
    entry: AuditEntry,
    prev_hash: str,
    own_hash: str,
    before: AuditEntry | None,
    expected_prev: str,
    expected_seq: int,
) -> list[str]:
    problems = []
    if entry.seq != expected_seq:
        after = f"after entry {before.seq}" if before is not None else "at the start of the chain"
        if entry.seq > expected_seq:
            problems.append(
                f"entry {entry.seq}: sequence jumps {after} "
                f"(entries {expected_seq}..{entry.seq - 1} missing?)"
            )
        else:
            problems.append(
                f"entry {entry.seq}: sequence goes back {after} (reordered or duplicated?)"
            )
    if prev_hash != expected_prev:
        if before is None:
            problems.append(
                f"entry {entry.seq}: previous hash does not match the start of the chain "
                "(entries before it removed?)"
            )
        else:
            problems.append(
                f"entry {entry.seq}: previous hash does not match entry {before.seq} "
                "(removed or reordered?)"
            )
    try:
        content_ok = entry_hash(prev_hash, entry) == own_hash
    except (TypeError, ValueError) as err:
        problems.append(f"entry {entry.seq}: cannot be hashed ({err})")
    else:
        if not content_ok:
            problems.append(f"entry {entry.seq}: hash does not match its content (edited?)")
    return problems


def verify_chain(
    entries_with_hashes: Iterable[tuple[AuditEntry, str, str]],
    *,
    prev_hash: str = GENESIS,
    first_seq: int = 1,
    head: str | None = None,
) -> list[str]:
    """Every problem in a run of chained entries, in words; an empty list when it is intact.

    By default the run is the whole chain, from entry 1 after GENESIS. `head` is the hash
    of the last entry as recorded elsewhere; without it, entries cut off the end of the
    chain cannot be noticed.
    """
    problems: list[str] = []
    before: AuditEntry | None = None
    expected_prev = prev_hash
    expected_seq = first_seq
    for entry, prev, own in entries_with_hashes:
        problems += _problems_at(entry, prev, own, before, expected_prev, expected_seq)
        before, expected_prev, expected_seq = entry, own, entry.seq + 1
    if head is not None and head != expected_prev:
        where = f"entry {before.seq}" if before is not None else "no entries"
        problems.append(
            f"the chain ends at {where}, not at the recorded head (entries removed from the end?)"
        )
    return problems
