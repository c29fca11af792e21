"""The appeal state machine and who may move an appeal through it (SPEC §5).

One module-level `transitions` machine serves every appeal: `advance` attaches a
throw-away model for the duration of one call, so the function stays pure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Final

from transitions import Machine

from codesvc.messages import Text, t

if TYPE_CHECKING:
    from transitions.core import TransitionConfigDict  # declared only in the type stubs

__all__ = [
    "ACTIONS",
    "OPEN",
    "SYSTEM",
    "TERMINAL",
    "TRANSITIONS",
    "Actor",
    "AppealConflict",
    "AppealError",
    "AppealForbidden",
    "AppealState",
    "advance",
    "allowed_actions",
    "can_view",
    "is_open",
]


class AppealState(Enum):
    """Where an appeal is in its workflow; the values are the API's status strings."""

    #: filed by the citizen, waiting in its district's queue
    SUBMITTED = "submitted"
    #: claimed by one staff member, who alone may resolve or escalate it
    IN_REVIEW = "in_review"
    #: decided for the citizen; correction events carry the appeal as provenance
    CORRECTED = "corrected"
    #: decided against the citizen, with an explanation
    UPHELD = "upheld"
    #: passed to the city health commission, which decides it
    ESCALATED = "escalated"
    #: taken back by the citizen before a decision
    WITHDRAWN = "withdrawn"


_S = AppealState

TERMINAL: Final = frozenset({_S.CORRECTED, _S.UPHELD, _S.WITHDRAWN})
OPEN: Final = frozenset(set(AppealState) - TERMINAL)

#: Each condition names a method of `_Attempt`; a failed condition explains itself there.
TRANSITIONS: Final[list[TransitionConfigDict]] = [
    {"trigger": "claim", "source": _S.SUBMITTED, "dest": _S.IN_REVIEW,
     "conditions": "by_district_staff"},
    {"trigger": "correct", "source": _S.IN_REVIEW, "dest": _S.CORRECTED,
     "conditions": "by_reviewer"},
    {"trigger": "correct", "source": _S.ESCALATED, "dest": _S.CORRECTED,
     "conditions": "by_commission"},
    {"trigger": "uphold", "source": _S.IN_REVIEW, "dest": _S.UPHELD,
     "conditions": "by_reviewer"},
    {"trigger": "uphold", "source": _S.ESCALATED, "dest": _S.UPHELD,
     "conditions": "by_commission"},
    {"trigger": "escalate", "source": _S.IN_REVIEW, "dest": _S.ESCALATED,
     "conditions": "by_reviewer"},
    {"trigger": "withdraw", "source": [_S.SUBMITTED, _S.IN_REVIEW, _S.ESCALATED],
     "dest": _S.WITHDRAWN, "conditions": "by_appellant"},
    {"trigger": "auto_correct", "source": _S.SUBMITTED, "dest": _S.CORRECTED,
     "conditions": "by_system"},
]  # fmt: skip

ACTIONS: Final = frozenset(step["trigger"] for step in TRANSITIONS)

_MACHINE: Final = Machine(
    model=None,
    states=AppealState,
    initial=AppealState.SUBMITTED,
    transitions=TRANSITIONS,
    auto_transitions=False,
    name="appeal",
)


class AppealError(Exception):
    """An appeal action that was refused; `detail` is safe to show the caller."""

    def __init__(self, detail: Text) -> None:
        super().__init__(detail)
        self.detail = detail


class AppealConflict(AppealError):
    """The action is not possible from the appeal's current state (HTTP 409)."""


class AppealForbidden(AppealError):
    """This actor may not take this action on this appeal (HTTP 403, or 404 to hide it)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, as the bearer token says: `role`, `sub` and, for staff, `district`."""

    role: str
    sub: str
    district: str | None = None


#: The service itself, for appeals whose evidence the machine can check. No token maps to it.
SYSTEM: Final = Actor(role="system", sub="codesvc")

_VERB = {
    "claim": t("claimed"),
    "correct": t("corrected"),
    "uphold": t("upheld"),
    "escalate": t("escalated"),
    "withdraw": t("withdrawn"),
    "auto_correct": t("corrected automatically"),
}


def can_view(actor: Actor, *, appeal_district: str, appeal_person_ref: str) -> bool:
    """Whether the actor may see the appeal: its citizen, its district's staff, the commission."""
    if actor.role == "commission":
        return True
    if actor.role == "staff":
        return actor.district is not None and actor.district == appeal_district
    if actor.role == "citizen":
        return actor.sub == appeal_person_ref
    return actor == SYSTEM


class _Attempt:
    """The model `transitions` moves during one `advance` call."""

    state: AppealState

    def __init__(self, actor: Actor, district: str, person_ref: str, claimed_by: str | None):
        self.actor = actor
        self.district = district
        self.person_ref = person_ref
        self.claimed_by = claimed_by
        self.refusal = t("not allowed")

    def _refuse(self, why: Text) -> bool:
        self.refusal = why
        return False

    def by_district_staff(self) -> bool:
        if self.actor.role != "staff":
            return self._refuse(t("only staff of the appeal's district can claim it"))
        return True

    def by_reviewer(self) -> bool:
        if self.actor.role == "commission":
            return True
        if self.actor.role != "staff":
            return self._refuse(t("only the officer reviewing the appeal or the commission can"))
        if self.actor.sub != self.claimed_by:
            return self._refuse(t("the appeal is claimed by another officer"))
        return True

    def by_commission(self) -> bool:
        if self.actor.role != "commission":
            return self._refuse(t("an escalated appeal is decided by the commission"))
        return True

    def by_appellant(self) -> bool:
        if self.actor.role != "citizen" or self.actor.sub != self.person_ref:
            return self._refuse(t("only the citizen who filed the appeal can withdraw it"))
        return True

    def by_system(self) -> bool:
        if self.actor != SYSTEM:
            return self._refuse(t("only the service itself resolves an appeal automatically"))
        return True


def _conflict(state: AppealState, action: str, actor: Actor, claimed_by: str | None) -> Text:
    if state is _S.IN_REVIEW and action == "claim":
        if claimed_by == actor.sub:
            return t("appeal is already in_review, claimed by you")
        return t("appeal is already in_review, claimed by another officer")
    if state is _S.ESCALATED and action == "escalate":
        return t("appeal is already escalated")
    verb = _VERB[action]
    if state is _S.CORRECTED:
        return t("appeal is corrected; a decided appeal cannot be {verb}", verb=verb)
    if state is _S.UPHELD:
        return t("appeal is upheld; a decided appeal cannot be {verb}", verb=verb)
    if state is _S.WITHDRAWN:
        return t("appeal is withdrawn; a withdrawn appeal cannot be {verb}", verb=verb)
    if state is _S.SUBMITTED:
        return t("appeal is submitted; it must be claimed before it can be {verb}", verb=verb)
    if state is _S.ESCALATED:
        return t("appeal is escalated; it is with the commission and cannot be {verb}", verb=verb)
    return t("appeal is in_review; it cannot be {verb}", verb=verb)


def advance(
    state: AppealState | str,
    action: str,
    actor: Actor,
    *,
    appeal_district: str,
    appeal_person_ref: str,
    claimed_by: str | None,
) -> AppealState:
    """The state after `actor` takes `action` on an appeal in `state` (an AppealState or its value).

    Raises AppealForbidden when the actor may not see the appeal or may not take the
    action, checked before the state so outsiders learn nothing about it; AppealConflict
    when the action is not declared from `state`.
    """
    state = AppealState(state)
    if action not in ACTIONS:
        raise ValueError(f"unknown appeal action {action!r}; expected one of {sorted(ACTIONS)}")
    if not can_view(actor, appeal_district=appeal_district, appeal_person_ref=appeal_person_ref):
        raise AppealForbidden(t("this appeal is not yours to act on"))
    if action not in _MACHINE.get_triggers(state):
        raise AppealConflict(_conflict(state, action, actor, claimed_by))
    attempt = _Attempt(actor, appeal_district, appeal_person_ref, claimed_by)
    _MACHINE.add_model(attempt, initial=state)
    try:
        moved = _MACHINE.events[action].trigger(attempt)
    finally:
        _MACHINE.remove_model(attempt)
    if not moved:
        raise AppealForbidden(attempt.refusal)
    return attempt.state


def allowed_actions(
    state: AppealState,
    actor: Actor,
    *,
    appeal_district: str,
    appeal_person_ref: str,
    claimed_by: str | None,
) -> list[str]:
    """The actions `actor` could take now, in declaration order (for buttons and links).

    Every rule compares the actor with the appeal in only these few ways, so the answer is
    computed once per combination (a queue page lists hundreds of appeals).
    """
    return list(
        _allowed(
            AppealState(state),
            actor.role,
            actor == SYSTEM,
            actor.district is not None and actor.district == appeal_district,
            actor.sub == appeal_person_ref,
            claimed_by is not None,
            actor.sub == claimed_by,
        )
    )


@functools.cache
def _allowed(
    state: AppealState,
    role: str,
    system: bool,
    same_district: bool,
    appellant: bool,
    claimed: bool,
    claimer: bool,
) -> tuple[str, ...]:
    """`allowed_actions` for a stand-in actor and appeal related in exactly these ways."""
    actor = SYSTEM if system else Actor(role, "actor", "d1")
    district = "d1" if same_district else "d2"
    person_ref = actor.sub if appellant else "someone else"
    claimed_by = actor.sub if claimer else ("another" if claimed else None)
    allowed = []
    for action in dict.fromkeys(step["trigger"] for step in TRANSITIONS):
        try:
            advance(
                state,
                action,
                actor,
                appeal_district=district,
                appeal_person_ref=person_ref,
                claimed_by=claimed_by,
            )
        except AppealError:
            continue
        allowed.append(action)
    return tuple(allowed)


def is_open(state: AppealState) -> bool:
    """Whether the appeal still awaits a decision (and so can become overdue)."""
    return state in OPEN
