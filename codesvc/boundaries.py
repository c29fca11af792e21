"""Who may write what for whom: the district boundary and the case a designation names.

Pure rules (SPEC §9), decided here once for every writer: feeds and staff through
``POST /v1/events``, the staff console, and an appeal's corrections. The service looks
up what they need (where the person is registered, the named case) and asks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from codesvc.messages import Text, t

#: Kinds a sender with a district claim may send only for people registered there.
#: Arrivals are not among them: a district reports whoever it finds on its territory.
DISTRICT_BOUND = frozenset({"test.result", "contact.designated", "case.discharged", "correction"})

#: The reasons given, word for word, in an event's ``error``.
NOT_YOUR_DISTRICT: Final = t("person not in your district")
UNKNOWN_CASE: Final = t("unknown case")


def district_refusal(
    sender_district: str | None,
    kind: str,
    person_district: str,
    *,
    routed_district: str | None = None,
) -> Text | None:
    """Why a sender of ``sender_district`` may not write a ``kind`` event for a person
    registered in ``person_district``, or None when they may.

    City-wide senders (no district) may write for anyone. ``routed_district`` is the
    district an appeal was routed to: resolving it may correct its person wherever they
    are registered, since the routing is the authority (SPEC §5).
    """
    if sender_district is None or kind not in DISTRICT_BOUND:
        return None
    if sender_district in (person_district, routed_district):
        return None
    return NOT_YOUR_DISTRICT


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What is stored about the event a designation names as its case."""

    kind: str
    positive: bool
    person_id: int | None
    voided: bool = False


def case_refusal(case: CaseFacts | None, designated_person_id: int) -> Text | None:
    """Why a designation of ``designated_person_id`` cannot name ``case``, or None.

    A case is a stored, not voided, positive ``test.result`` of another person, so that
    red by designation always traces to a real result.
    """
    if (
        case is None
        or case.kind != "test.result"
        or not case.positive
        or case.voided
        or case.person_id is None
        or case.person_id == designated_person_id
    ):
        return UNKNOWN_CASE
    return None
