"""The tamper-evident audit log: entries chained by SHA-256 so an edit or removal shows (SPEC §6).

Each entry's hash covers the previous entry's hash and a canonical JSON of the entry,
so the chain can be checked by anyone holding the entries, without a key. Checkpoints
(SPEC §9) pin the chain's head with an Ed25519 signature kept outside the database.
Pure: no I/O; the service reads and writes what is checked here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "GENESIS",
    "AuditEntry",
    "Chained",
    "Checkpoint",
    "canonical_json",
    "chain",
    "checkpoint_line",
    "checkpoint_message",
    "entry_hash",
    "parse_checkpoint_line",
    "sign_checkpoint",
    "verify_chain",
    "verify_checkpoints",
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


# Checkpoints: the chain's head, signed from outside the database (SPEC §9). A rewrite of
# the whole chain with fresh hashes verifies against itself; it cannot match a hash that
# was signed and written elsewhere before the rewrite.


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The hash of entry ``seq`` as it was at ``at``, signed (Ed25519, base64url ``sig``)."""

    seq: int
    hash: str
    at: datetime
    sig: str = ""


def checkpoint_message(seq: int, hash: str, at: datetime) -> bytes:
    """What a checkpoint's signature covers: canonical JSON of seq, hash and time."""
    document = {"seq": seq, "hash": hash, "at": _rfc3339(at)}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def sign_checkpoint(key: Ed25519PrivateKey, seq: int, hash: str, at: datetime) -> Checkpoint:
    signature = key.sign(checkpoint_message(seq, hash, at))
    return Checkpoint(seq, hash, at, base64.urlsafe_b64encode(signature).rstrip(b"=").decode())


def checkpoint_line(checkpoint: Checkpoint) -> str:
    """One line of the checkpoint file: ``{"seq", "hash", "at", "sig"}`` as JSON."""
    c = checkpoint
    return json.dumps(
        {"seq": c.seq, "hash": c.hash, "at": _rfc3339(c.at), "sig": c.sig},
        sort_keys=True,
        separators=(",", ":"),
    )


def parse_checkpoint_line(line: str) -> Checkpoint:
    """A checkpoint from one line of the file; ValueError says what is wrong with it."""
    try:
        raw = json.loads(line)
        seq, hash_, at, sig = raw["seq"], raw["hash"], raw["at"], raw["sig"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a checkpoint ({exc.__class__.__name__})") from None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError("seq must be a positive whole number")
    if not isinstance(hash_, str) or not isinstance(sig, str) or not isinstance(at, str):
        raise ValueError("hash, at and sig must be text")
    try:
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("at must be an RFC 3339 time") from None
    if when.utcoffset() is None:
        raise ValueError("at must carry an offset")
    return Checkpoint(seq, hash_, when, sig)


def _signed(checkpoint: Checkpoint, key: Ed25519PublicKey) -> bool:
    c = checkpoint
    try:
        signature = base64.urlsafe_b64decode(c.sig + "=" * (-len(c.sig) % 4))
        key.verify(signature, checkpoint_message(c.seq, c.hash, c.at))
    except (ValueError, InvalidSignature):
        return False
    return True


def verify_checkpoints(
    checkpoints: Iterable[Checkpoint],
    stored: Mapping[int, str],
    key: Ed25519PublicKey | None,
) -> list[str]:
    """Every checkpoint the stored chain contradicts, in words; empty when all match.

    ``stored`` maps each checkpointed seq to the hash the chain holds now (absent when the
    entry is gone). Without ``key`` the signatures are not checked, only the hashes.
    """
    problems = []
    for c in checkpoints:
        when = _rfc3339(c.at)
        if key is not None and not _signed(c, key):
            problems.append(
                f"checkpoint of entry {c.seq} at {when}: the signature does not verify "
                "(checkpoint edited, or signed with another key?)"
            )
        elif c.seq not in stored:
            problems.append(
                f"entry {c.seq}, checkpointed at {when}, is missing from the chain "
                "(entries removed?)"
            )
        elif stored[c.seq] != c.hash:
            problems.append(
                f"entry {c.seq} does not match its checkpoint of {when} "
                "(the chain was rewritten up to it?)"
            )
    return problems
