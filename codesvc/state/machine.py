"""The colour as a declared state machine: a code changes colour only through these triggers."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from transitions import Machine, MachineError

from codesvc.state.colors import Color
from codesvc.state.status import Interval

if TYPE_CHECKING:  # the typed dict exists only in transitions' stubs
    from transitions.core import TransitionConfigDict

TRANSITIONS: "list[TransitionConfigDict]" = [
    {"trigger": "clear", "source": [Color.YELLOW, Color.RED], "dest": Color.GREEN},
    {"trigger": "caution", "source": [Color.GREEN, Color.RED], "dest": Color.YELLOW},
    {"trigger": "alert", "source": [Color.GREEN, Color.YELLOW], "dest": Color.RED},
]

#: the trigger that moves a code to each colour
TRIGGERS: Mapping[Color, str] = {Color.GREEN: "clear", Color.YELLOW: "caution", Color.RED: "alert"}


#: shared by every evaluation and by the models of tests and tools
MACHINE = Machine(
    model=None,
    states=Color,
    transitions=TRANSITIONS,
    initial=Color.GREEN,
    auto_transitions=False,
)

#: The declared moves, read once from the machine: (from, to) -> trigger. A walk checks
#: each change against them rather than attaching a model to the machine and firing its
#: triggers, which cost more than the rest of an evaluation (a city-wide change walks
#: millions of people); what may move where is still only what the machine declares.
MOVES: Mapping[tuple[Color, Color], str] = {
    (Color[str(source)], Color[str(transition.dest)]): name
    for name, event in MACHINE.events.items()
    for source, transitions in event.transitions.items()
    for transition in transitions
}


def walk(changes: Sequence[tuple[datetime, Color, str]]) -> tuple[Interval, ...]:
    """The intervals of a sequence of (moment, new colour, cause), the first the origin.

    Raises `transitions.MachineError` if a change is not a declared move (two consecutive
    changes naming the same colour).
    """
    start, color, cause = changes[0]
    intervals: list[Interval] = []
    for at, new_color, new_cause in changes[1:]:
        if (color, new_color) not in MOVES:
            raise MachineError(f"no declared move from {color.name} to {new_color.name}")
        intervals.append(Interval(start, at, color, cause))
        start, color, cause = at, new_color, new_cause
    intervals.append(Interval(start, None, color, cause))
    return tuple(intervals)
