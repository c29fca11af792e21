"""The colour machine: declared triggers only, one machine for every evaluation."""

import pytest
from transitions import MachineError

from codesvc.state import Color, Interval
from codesvc.state.machine import MACHINE, MOVES, TRIGGERS, walk

from .facts import at


def test_walk_records_each_colour_between_its_changes() -> None:
    intervals = walk(
        [
            (at(), Color.GREEN, "none"),
            (at(days=1), Color.RED, "R2:a"),
            (at(days=2), Color.YELLOW, "R2:a"),
        ]
    )
    assert intervals == (
        Interval(at(), at(days=1), Color.GREEN, "none"),
        Interval(at(days=1), at(days=2), Color.RED, "R2:a"),
        Interval(at(days=2), None, Color.YELLOW, "R2:a"),
    )
    assert MACHINE.models == []  # each walk's model leaves the shared machine


def test_a_colour_cannot_change_to_itself() -> None:
    with pytest.raises(MachineError):
        walk([(at(), Color.RED, "R5:a"), (at(days=1), Color.RED, "R5:b")])
    assert MACHINE.models == []


class Code:
    """A model for the shared machine."""


def test_only_declared_triggers_exist() -> None:
    model = Code()
    MACHINE.add_model(model, initial=Color.GREEN)
    try:
        assert not hasattr(model, "to_RED")
        assert model.may_trigger("alert")  # type: ignore[attr-defined]
        assert not model.may_trigger("clear")  # type: ignore[attr-defined]
        assert {TRIGGERS[c] for c in Color} == set(MACHINE.events)
    finally:
        MACHINE.remove_model(model)


def test_a_walk_moves_exactly_as_the_machine_declares() -> None:
    """The walk's table of moves is the machine's: every move it allows, the machine's
    trigger makes, and nothing else."""
    for before in Color:
        for after in Color:
            model = Code()
            MACHINE.add_model(model, initial=before)
            try:
                trigger = TRIGGERS[after]
                assert ((before, after) in MOVES) == model.may_trigger(trigger)  # type: ignore[attr-defined]
                if (before, after) in MOVES:
                    assert MOVES[(before, after)] == trigger
                    getattr(model, trigger)()
                    assert model.state is after  # type: ignore[attr-defined]
            finally:
                MACHINE.remove_model(model)
