"""The colour as a declared state machine: a code changes colour only through these triggers."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from transitions import EventData, Machine

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


class ColorWalk:
    """One evaluation's model: walks the colour changes and records the intervals between."""

    state: Color

    def __init__(self, start: datetime, cause: str) -> None:
        self.since = start
        self.cause = cause
        self.intervals: list[Interval] = []

    def close(self, event: EventData) -> None:
        """Before each change: end the current colour's interval where the next begins."""
        at: datetime = event.kwargs["at"]
        self.intervals.append(Interval(self.since, at, self.state, self.cause))
        self.since = at
        self.cause = event.kwargs["cause"]


#: shared by every evaluation; a model is added for one walk and removed after it
MACHINE = Machine(
    model=None,
    states=Color,
    transitions=TRANSITIONS,
    initial=Color.GREEN,
    auto_transitions=False,
    send_event=True,
    before_state_change="close",
)


def walk(changes: Sequence[tuple[datetime, Color, str]]) -> tuple[Interval, ...]:
    """The intervals of a sequence of (moment, new colour, cause), the first the origin.

    Raises `transitions.MachineError` if two consecutive changes name the same colour.
    """
    start, color, cause = changes[0]
    if len(changes) == 1:  # most people, most of the time: one colour, nothing to walk
        return (Interval(start, None, color, cause),)
    model = ColorWalk(start, cause)
    MACHINE.add_model(model, initial=color)
    try:
        for at, new_color, new_cause in changes[1:]:
            MACHINE.events[TRIGGERS[new_color]].trigger(model, at=at, cause=new_cause)
    finally:
        MACHINE.remove_model(model)
    return (*model.intervals, Interval(model.since, None, model.state, model.cause))
