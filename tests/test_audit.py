"""The audit chain: canonical hashing, and that any single tampering is reported."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesvc.audit_chain import (
    GENESIS,
    AuditEntry,
    Chained,
    canonical_json,
    chain,
    entry_hash,
    verify_chain,
)

CST = timezone(timedelta(hours=8))
AT = datetime(2022, 2, 24, 9, 30, 0, 120000, tzinfo=CST)


def entry(seq: int, **changes: object) -> AuditEntry:
    base = AuditEntry(
        seq=seq,
        at=AT + timedelta(minutes=seq),
        actor_role="staff",
        actor_sub="staff-a",
        action="person.read",
        person_ref="p_7Q2M",
        subject=None,
        detail={"district": "310101", "fields": ["status", "history"]},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_canonical_json_is_sorted_compact_and_utc() -> None:
    assert canonical_json(entry(1, detail={"b": 1, "a": {"z": None, "y": True}})) == (
        '{"action":"person.read","actor_role":"staff","actor_sub":"staff-a",'
        '"at":"2022-02-24T01:31:00.120000Z","detail":{"a":{"y":true,"z":null},"b":1},'
        '"person_ref":"p_7Q2M","seq":1,"subject":null}'
    )


def test_entry_hash_is_sha256_of_previous_hash_and_canonical_json() -> None:
    first = entry(1)
    expected = hashlib.sha256((GENESIS + canonical_json(first)).encode()).hexdigest()
    assert entry_hash(GENESIS, first) == expected
    assert len(expected) == 64
    assert GENESIS == "0" * 64


def test_the_same_instant_in_any_offset_hashes_the_same() -> None:
    assert entry_hash(GENESIS, entry(1)) == entry_hash(
        GENESIS, entry(1, at=(AT + timedelta(minutes=1)).astimezone(UTC))
    )


def test_text_stays_readable_in_the_hashed_form() -> None:
    assert '"subject":"申诉 42"' in canonical_json(entry(1, subject="申诉 42"))


def test_unstable_values_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        canonical_json(entry(1, at=datetime(2022, 2, 24, 9, 30)))
    with pytest.raises(TypeError, match=r"detail\.ratio: float"):
        canonical_json(entry(1, detail={"ratio": 0.5}))
    with pytest.raises(TypeError, match="keys must be text"):
        canonical_json(entry(1, detail={"a": {1: "x"}}))
    with pytest.raises(TypeError, match=r"detail\.when\[0\]: datetime"):
        canonical_json(entry(1, detail={"when": [AT]}))


def test_chain_links_each_entry_to_the_one_before() -> None:
    linked = chain([entry(1), entry(2), entry(3)])
    assert [c.prev_hash for c in linked] == [GENESIS, linked[0].hash, linked[1].hash]
    assert all(c.hash == entry_hash(c.prev_hash, c.entry) for c in linked)
    assert verify_chain(linked) == []
    assert verify_chain([]) == []
    assert verify_chain(linked, head=linked[-1].hash) == []


def test_a_segment_verifies_from_its_predecessor() -> None:
    linked = chain([entry(i) for i in range(1, 6)])
    assert verify_chain(linked[2:], prev_hash=linked[1].hash, first_seq=3) == []
    assert verify_chain(linked[2:]) != []


def test_an_edit_is_reported() -> None:
    linked = chain([entry(1), entry(2), entry(3)])
    edited = linked[1]._replace(entry=entry(2, actor_sub="staff-b"))
    assert verify_chain([linked[0], edited, linked[2]]) == [
        "entry 2: hash does not match its content (edited?)"
    ]


def test_an_edit_with_a_recomputed_hash_is_reported_by_the_next_entry() -> None:
    linked = chain([entry(1), entry(2), entry(3)])
    forged = chain([entry(2, action="person.delete")], prev_hash=linked[0].hash)[0]
    assert verify_chain([linked[0], forged, linked[2]]) == [
        "entry 3: previous hash does not match entry 2 (removed or reordered?)"
    ]


def test_a_removal_is_reported() -> None:
    linked = chain([entry(i) for i in range(1, 5)])
    assert verify_chain([linked[0], linked[1], linked[3]]) == [
        "entry 4: sequence jumps after entry 2 (entries 3..3 missing?)",
        "entry 4: previous hash does not match entry 2 (removed or reordered?)",
    ]
    assert verify_chain(linked[1:]) == [
        "entry 2: sequence jumps at the start of the chain (entries 1..1 missing?)",
        "entry 2: previous hash does not match the start of the chain (entries before it removed?)",
    ]


def test_a_cut_off_end_is_reported_against_the_recorded_head() -> None:
    linked = chain([entry(i) for i in range(1, 4)])
    assert verify_chain(linked[:2], head=linked[2].hash) == [
        "the chain ends at entry 2, not at the recorded head (entries removed from the end?)"
    ]
    assert verify_chain([], head=linked[2].hash) == [
        "the chain ends at no entries, not at the recorded head (entries removed from the end?)"
    ]


def test_a_swap_is_reported() -> None:
    linked = chain([entry(i) for i in range(1, 4)])
    problems = verify_chain([linked[0], linked[2], linked[1]])
    assert "entry 3: previous hash does not match entry 1 (removed or reordered?)" in problems
    assert "entry 2: sequence goes back after entry 3 (reordered or duplicated?)" in problems


def test_an_unhashable_stored_entry_is_reported_not_raised() -> None:
    linked = chain([entry(1)])
    broken = linked[0]._replace(entry=entry(1, detail={"x": 1.5}))
    assert verify_chain([broken]) == [
        "entry 1: cannot be hashed (audit detail detail.x: float is not hashable stably; "
        "store text, whole numbers, booleans, null, lists or objects)"
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
entries = st.builds(
    AuditEntry,
    seq=st.just(0),
    at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(CST)
    ),
    actor_role=st.sampled_from(["staff", "commission"]),
    actor_sub=st.text(max_size=8),
    action=st.sampled_from(["person.read", "override.propose", "appeal.resolve"]),
    person_ref=st.none() | st.text(max_size=8),
    subject=st.none() | st.text(max_size=8),
    detail=st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)


@st.composite
def chains(draw: st.DrawFn) -> list[Chained]:
    drawn = draw(st.lists(entries, min_size=1, max_size=8))
    return chain(dataclasses.replace(e, seq=i) for i, e in enumerate(drawn, start=1))


def edited(e: AuditEntry, how: int) -> AuditEntry:
    return [
        lambda: dataclasses.replace(e, seq=e.seq + 1),
        lambda: dataclasses.replace(e, at=e.at + timedelta(microseconds=1)),
        lambda: dataclasses.replace(e, actor_sub=e.actor_sub + "x"),
        lambda: dataclasses.replace(e, action=e.action + ".x"),
        lambda: dataclasses.replace(e, person_ref=None if e.person_ref else "p_x"),
        lambda: dataclasses.replace(e, subject=(e.subject or "") + "x"),
        lambda: dataclasses.replace(e, detail={**e.detail, "tampered": True}),
        lambda: dataclasses.replace(
            e, actor_role="commission" if e.actor_role == "staff" else "staff"
        ),
    ][how]()


@given(chains())
def test_an_untouched_chain_verifies(linked: list[Chained]) -> None:
    assert verify_chain(linked, head=linked[-1].hash) == []


@given(chains(), st.data())
def test_any_single_tampering_is_detected(linked: list[Chained], data: st.DataObject) -> None:
    head = linked[-1].hash
    i = data.draw(st.integers(0, len(linked) - 1), label="position")
    kind = data.draw(st.sampled_from(["edit", "edit+rehash", "remove", "insert", "swap"]))
    tampered = list(linked)
    if kind in ("edit", "edit+rehash"):
        changed = edited(linked[i].entry, data.draw(st.integers(0, 7), label="field"))
        own = entry_hash(linked[i].prev_hash, changed) if kind == "edit+rehash" else linked[i].hash
        tampered[i] = Chained(changed, linked[i].prev_hash, own)
    elif kind == "remove":
        del tampered[i]
    elif kind == "insert":
        at = data.draw(st.integers(0, len(linked)), label="insert at")
        prev = linked[at - 1].hash if at else GENESIS
        forged = data.draw(entries, label="forged")
        forged = dataclasses.replace(forged, seq=data.draw(st.integers(0, 10), label="seq"))
        tampered.insert(at, Chained(forged, prev, entry_hash(prev, forged)))
    else:
        j = data.draw(st.integers(0, len(linked) - 1).filter(lambda j: j != i), label="other")
        tampered[i], tampered[j] = tampered[j], tampered[i]
    assert verify_chain(tampered, head=head) != []
