"""The appeal machine: declared transitions, who may take them, and why a refusal happened."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesvc.appeals.machine import (
    _MACHINE,
    ACTIONS,
    OPEN,
    SYSTEM,
    TERMINAL,
    TRANSITIONS,
    Actor,
    AppealConflict,
    AppealError,
    AppealForbidden,
    AppealState,
    advance,
    allowed_actions,
    can_view,
    is_open,
)

S = AppealState
DISTRICT = "310101"
PERSON = "p_owner"

REVIEWER = Actor("staff", "staff-a", DISTRICT)
COLLEAGUE = Actor("staff", "staff-b", DISTRICT)
OUTSIDER = Actor("staff", "staff-x", "310104")
COMMISSION = Actor("commission", "comm-1")
OWNER = Actor("citizen", PERSON)
STRANGER = Actor("citizen", "p_other")
SCANNER = Actor("scanner", "venue-1")
ACTORS = [REVIEWER, COLLEAGUE, OUTSIDER, COMMISSION, OWNER, STRANGER, SCANNER, SYSTEM]

#: The workflow as the README states it: (from, action) -> to.
DECLARED = {
    (S.SUBMITTED, "claim"): S.IN_REVIEW,
    (S.IN_REVIEW, "correct"): S.CORRECTED,
    (S.ESCALATED, "correct"): S.CORRECTED,
    (S.IN_REVIEW, "uphold"): S.UPHELD,
    (S.ESCALATED, "uphold"): S.UPHELD,
    (S.IN_REVIEW, "escalate"): S.ESCALATED,
    (S.SUBMITTED, "withdraw"): S.WITHDRAWN,
    (S.IN_REVIEW, "withdraw"): S.WITHDRAWN,
    (S.ESCALATED, "withdraw"): S.WITHDRAWN,
    (S.SUBMITTED, "auto_correct"): S.CORRECTED,
}


def act(
    state: AppealState, action: str, actor: Actor, claimed_by: str | None = REVIEWER.sub
) -> AppealState:
    return advance(
        state,
        action,
        actor,
        appeal_district=DISTRICT,
        appeal_person_ref=PERSON,
        claimed_by=claimed_by,
    )


def test_states_are_the_api_status_strings() -> None:
    assert [s.value for s in AppealState] == [
        "submitted",
        "in_review",
        "corrected",
        "upheld",
        "escalated",
        "withdrawn",
    ]
    assert {S.CORRECTED, S.UPHELD, S.WITHDRAWN} == TERMINAL
    assert {S.SUBMITTED, S.IN_REVIEW, S.ESCALATED} == OPEN
    assert [is_open(s) for s in AppealState] == [True, True, False, False, True, False]


def test_the_machine_declares_exactly_the_documented_workflow() -> None:
    declared = {
        (S[transition.source], name): S[transition.dest]
        for name, event in _MACHINE.events.items()
        for transitions in event.transitions.values()
        for transition in transitions
    }
    assert declared == DECLARED
    assert set(_MACHINE.events) == ACTIONS == {t["trigger"] for t in TRANSITIONS}
    assert not _MACHINE.auto_transitions


@pytest.mark.parametrize(
    ("state", "action", "actor", "expected"),
    [
        (S.SUBMITTED, "claim", REVIEWER, S.IN_REVIEW),
        (S.IN_REVIEW, "correct", REVIEWER, S.CORRECTED),
        (S.IN_REVIEW, "uphold", REVIEWER, S.UPHELD),
        (S.IN_REVIEW, "escalate", REVIEWER, S.ESCALATED),
        (S.IN_REVIEW, "correct", COMMISSION, S.CORRECTED),
        (S.IN_REVIEW, "uphold", COMMISSION, S.UPHELD),
        (S.IN_REVIEW, "escalate", COMMISSION, S.ESCALATED),
        (S.ESCALATED, "correct", COMMISSION, S.CORRECTED),
        (S.ESCALATED, "uphold", COMMISSION, S.UPHELD),
        (S.SUBMITTED, "withdraw", OWNER, S.WITHDRAWN),
        (S.IN_REVIEW, "withdraw", OWNER, S.WITHDRAWN),
        (S.ESCALATED, "withdraw", OWNER, S.WITHDRAWN),
        (S.SUBMITTED, "auto_correct", SYSTEM, S.CORRECTED),
    ],
)
def test_allowed_moves(
    state: AppealState, action: str, actor: Actor, expected: AppealState
) -> None:
    assert act(state, action, actor) is expected


def test_the_stored_status_string_is_accepted() -> None:
    assert act("in_review", "uphold", REVIEWER) is S.UPHELD  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'reviewing' is not a valid AppealState"):
        act("reviewing", "uphold", REVIEWER)  # type: ignore[arg-type]


def test_a_second_claim_by_another_officer_conflicts() -> None:
    with pytest.raises(AppealConflict) as refused:
        act(S.IN_REVIEW, "claim", COLLEAGUE)
    assert refused.value.detail == "appeal is already in_review, claimed by another officer"


def test_claiming_twice_tells_the_officer_it_is_theirs() -> None:
    with pytest.raises(AppealConflict, match="claimed by you"):
        act(S.IN_REVIEW, "claim", REVIEWER)


@pytest.mark.parametrize("actor", [COMMISSION, OWNER, SYSTEM])
def test_only_staff_claim(actor: Actor) -> None:
    with pytest.raises(AppealForbidden, match="only staff"):
        act(S.SUBMITTED, "claim", actor, claimed_by=None)


@pytest.mark.parametrize("action", ["correct", "uphold", "escalate"])
def test_only_the_claimant_or_the_commission_works_an_appeal_in_review(action: str) -> None:
    with pytest.raises(AppealForbidden, match="claimed by another officer"):
        act(S.IN_REVIEW, action, COLLEAGUE)
    with pytest.raises(AppealForbidden):
        act(S.IN_REVIEW, action, OWNER)


@pytest.mark.parametrize("action", ["correct", "uphold"])
@pytest.mark.parametrize("actor", [REVIEWER, COLLEAGUE])
def test_staff_cannot_decide_an_escalated_appeal(action: str, actor: Actor) -> None:
    with pytest.raises(AppealForbidden) as refused:
        act(S.ESCALATED, action, actor)
    assert refused.value.detail == "an escalated appeal is decided by the commission"


def test_an_appeal_is_claimed_before_it_is_escalated() -> None:
    with pytest.raises(AppealConflict, match="must be claimed before it can be escalated"):
        act(S.SUBMITTED, "escalate", REVIEWER, claimed_by=None)
    with pytest.raises(AppealConflict, match="already escalated"):
        act(S.ESCALATED, "escalate", COMMISSION)


@pytest.mark.parametrize("actor", [REVIEWER, COMMISSION, STRANGER, SYSTEM])
def test_only_its_citizen_withdraws_an_appeal(actor: Actor) -> None:
    with pytest.raises(AppealForbidden):
        act(S.SUBMITTED, "withdraw", actor)


@pytest.mark.parametrize("decided", [S.CORRECTED, S.UPHELD])
def test_a_decided_appeal_cannot_be_withdrawn(decided: AppealState) -> None:
    with pytest.raises(AppealConflict) as refused:
        act(decided, "withdraw", OWNER)
    assert refused.value.detail == (
        f"appeal is {decided.value}; a decided appeal cannot be withdrawn"
    )


def test_a_withdrawn_appeal_stays_withdrawn() -> None:
    with pytest.raises(AppealConflict, match="a withdrawn appeal cannot be corrected"):
        act(S.WITHDRAWN, "correct", COMMISSION)


def test_only_the_service_itself_corrects_automatically() -> None:
    with pytest.raises(AppealForbidden, match="only the service itself"):
        act(S.SUBMITTED, "auto_correct", COMMISSION, claimed_by=None)
    with pytest.raises(AppealForbidden):
        act(S.SUBMITTED, "auto_correct", Actor("system", "impostor"), claimed_by=None)
    with pytest.raises(AppealConflict, match="cannot be corrected automatically"):
        act(S.IN_REVIEW, "auto_correct", SYSTEM)


@pytest.mark.parametrize("outsider", [OUTSIDER, STRANGER, SCANNER, Actor("staff", "s", None)])
@pytest.mark.parametrize("state", list(AppealState))
def test_outsiders_learn_nothing_about_the_state(outsider: Actor, state: AppealState) -> None:
    for action in sorted(ACTIONS):
        with pytest.raises(AppealForbidden) as refused:
            act(state, action, outsider)
        assert refused.value.detail == "this appeal is not yours to act on"


def test_an_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown appeal action 'resolve'"):
        act(S.IN_REVIEW, "resolve", REVIEWER)


def test_the_shared_machine_keeps_no_models() -> None:
    act(S.SUBMITTED, "claim", REVIEWER, claimed_by=None)
    with pytest.raises(AppealForbidden):
        act(S.IN_REVIEW, "correct", COLLEAGUE)
    assert _MACHINE.models == []


def test_can_view() -> None:
    def sees(actor: Actor) -> bool:
        return can_view(actor, appeal_district=DISTRICT, appeal_person_ref=PERSON)

    assert [sees(actor) for actor in ACTORS] == [True, True, False, True, True, False, False, True]


def test_allowed_actions_lists_what_the_actor_can_do_now() -> None:
    def now(state: AppealState, actor: Actor) -> list[str]:
        return allowed_actions(
            state,
            actor,
            appeal_district=DISTRICT,
            appeal_person_ref=PERSON,
            claimed_by=REVIEWER.sub,
        )

    assert now(S.SUBMITTED, COLLEAGUE) == ["claim"]
    assert now(S.IN_REVIEW, REVIEWER) == ["correct", "uphold", "escalate"]
    assert now(S.IN_REVIEW, COLLEAGUE) == []
    assert now(S.ESCALATED, COMMISSION) == ["correct", "uphold"]
    assert now(S.ESCALATED, OWNER) == ["withdraw"]
    assert now(S.UPHELD, COMMISSION) == []


def attempt(
    state: AppealState, action: str, actor: Actor, claimed_by: str | None
) -> AppealState | AppealError:
    try:
        return act(state, action, actor, claimed_by=claimed_by)
    except AppealError as refused:
        return refused


steps = st.lists(st.tuples(st.sampled_from(sorted(ACTIONS)), st.sampled_from(ACTORS)), max_size=12)


@given(steps)
def test_any_sequence_of_calls_stays_on_the_declared_graph(
    calls: list[tuple[str, Actor]],
) -> None:
    state, claimed_by = S.SUBMITTED, None
    for action, actor in calls:
        outcome = attempt(state, action, actor, claimed_by)
        assert _MACHINE.models == []
        if isinstance(outcome, AppealError):
            assert outcome.detail
            visible = can_view(actor, appeal_district=DISTRICT, appeal_person_ref=PERSON)
            declared = (state, action) in DECLARED
            expected = AppealConflict if visible and not declared else AppealForbidden
            assert type(outcome) is expected
            continue
        assert state not in TERMINAL
        assert DECLARED[(state, action)] is outcome
        state = outcome
        if action == "claim":
            claimed_by = actor.sub


@given(st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=2, unique=True))
def test_exactly_one_of_two_claims_succeeds(subs: list[str]) -> None:
    first, second = (Actor("staff", sub, DISTRICT) for sub in subs)
    won = attempt(S.SUBMITTED, "claim", first, None)
    lost = attempt(won, "claim", second, first.sub) if isinstance(won, AppealState) else won
    assert won is S.IN_REVIEW
    assert isinstance(lost, AppealConflict)
    assert lost.detail == "appeal is already in_review, claimed by another officer"


@given(
    state=st.sampled_from(list(AppealState)),
    role=st.sampled_from(["citizen", "staff", "commission", "system", "scanner"]),
    sub=st.sampled_from(["p_1", "p_2", "officer-1", "officer-2", "codesvc"]),
    district=st.sampled_from([None, "310101", "310115"]),
    appeal_district=st.sampled_from(["310101", "310115"]),
    person_ref=st.sampled_from(["p_1", "p_2"]),
    claimed_by=st.sampled_from([None, "officer-1", "officer-2", "p_1"]),
)
def test_allowed_actions_are_exactly_the_actions_advance_accepts(
    state, role, sub, district, appeal_district, person_ref, claimed_by
) -> None:
    actor = Actor(role, sub, district)
    expected = []
    for action in dict.fromkeys(t["trigger"] for t in TRANSITIONS):
        try:
            advance(
                state,
                action,
                actor,
                appeal_district=appeal_district,
                appeal_person_ref=person_ref,
                claimed_by=claimed_by,
            )
        except AppealError:
            continue
        expected.append(action)
    got = allowed_actions(
        state,
        actor,
        appeal_district=appeal_district,
        appeal_person_ref=person_ref,
        claimed_by=claimed_by,
    )
    assert got == expected
