"""The health code as pure functions: events, rules, holds, replay. No I/O here.

A person's status is a fold: `replay` their events into a `PersonState`, then
`evaluate(state, world, now)` reads the colour timeline at `now`.
"""

from codesvc.state.colors import Color
from codesvc.state.events import (
    EVENT_TYPES,
    CaseDischarged,
    ContactDesignated,
    Correction,
    Event,
    Override,
    TestResult,
    TravelArrival,
    event_data,
    format_time,
    from_stored,
    parse_time,
    sort_key,
)
from codesvc.state.explain import LANGUAGES, explain
from codesvc.state.history import (
    Reconciliation,
    Recorded,
    as_shown,
    current,
    reconcile,
    record,
    shown_portion,
)
from codesvc.state.holds import Clearance, Hold, Phase, holds
from codesvc.state.person import (
    EventConflict,
    PersonState,
    apply,
    from_facts,
    replay,
)
from codesvc.state.rules import RULES, Rules
from codesvc.state.status import NO_CAUSE, Interval, Reason, Status
from codesvc.state.timeline import evaluate, origin, timeline
from codesvc.state.world import Campaign, Listing, World

__all__ = [
    "EVENT_TYPES",
    "LANGUAGES",
    "NO_CAUSE",
    "RULES",
    "Campaign",
    "CaseDischarged",
    "Clearance",
    "Color",
    "ContactDesignated",
    "Correction",
    "Event",
    "EventConflict",
    "Hold",
    "Interval",
    "Listing",
    "Override",
    "PersonState",
    "Phase",
    "Reason",
    "Reconciliation",
    "Recorded",
    "Rules",
    "Status",
    "TestResult",
    "TravelArrival",
    "World",
    "apply",
    "as_shown",
    "current",
    "evaluate",
    "event_data",
    "explain",
    "format_time",
    "from_facts",
    "from_stored",
    "holds",
    "origin",
    "parse_time",
    "reconcile",
    "record",
    "replay",
    "shown_portion",
    "sort_key",
    "timeline",
]
