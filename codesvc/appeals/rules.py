"""Appeal rules: filing checks, routing, due times, queue order, machine-checkable evidence."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final, Protocol, TypeVar

from codesvc.appeals.machine import AppealState, is_open
from codesvc.identity import normalize_phone
from codesvc.messages import Text, t
from codesvc.state.events import parse_event_id

__all__ = [
    "DEFAULT_POLICY",
    "AppealPolicy",
    "Category",
    "Queued",
    "due_at",
    "evidence_matches",
    "is_overdue",
    "limit_reached",
    "queue_key",
    "queue_order",
    "route",
    "validate_filing",
]


class Category(Enum):
    """What the citizen says is wrong."""

    #: an arrival the person did not make, or from a different area or time
    WRONG_TRAVEL_RECORD = "wrong_travel_record"
    #: a test the person took that never reached their record
    MISSING_TEST_RESULT = "missing_test_result"
    #: a test result on the record that is not the person's, or not what the lab found
    WRONG_TEST_RESULT = "wrong_test_result"
    #: anything else; staff read the description
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class AppealPolicy:
    """The appeal numbers a city may configure."""

    #: how long a district has to decide an appeal
    due_after: timedelta = timedelta(hours=24)
    #: appeals one person may file per rolling `daily_window`
    daily_limit: int = 3
    daily_window: timedelta = timedelta(hours=24)
    #: characters of the citizen's description
    description_max: int = 2000
    #: keys of the evidence object, and characters of each evidence value
    evidence_keys_max: int = 20
    evidence_value_max: int = 200

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value <= type(value)():
                raise ValueError(f"appeal policy {field.name} must be positive, got {value}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AppealPolicy:
        """A policy from settings: field names; durations as timedelta or a number of hours."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown appeal policy settings: {', '.join(unknown)}")
        parsed: dict[str, Any] = {
            name: _setting(name, known[name].default, raw) for name, raw in values.items()
        }
        return cls(**parsed)


def _setting(name: str, default: object, raw: object) -> int | timedelta:
    as_hours = isinstance(default, timedelta)
    try:
        if isinstance(raw, timedelta) and as_hours:
            return raw
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise TypeError
        number = float(raw)
        if as_hours:
            return timedelta(hours=number)
        if not number.is_integer():
            raise ValueError
        return int(number)
    except (TypeError, ValueError, OverflowError):
        kind = "a number of hours" if as_hours else "a whole number"
        raise ValueError(f"appeal policy {name}: {raw!r} is not {kind}") from None


DEFAULT_POLICY: Final = AppealPolicy()


def route(disputed_reporting_district: str | None, person_district: str) -> str:
    """The district that works the appeal: the one that reported the disputed event, else
    the person's own."""
    return disputed_reporting_district or person_district


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset")
    return at


def due_at(filed_at: datetime, policy: AppealPolicy = DEFAULT_POLICY) -> datetime:
    """When a decision is due on an appeal filed at `filed_at`."""
    return _aware(filed_at, "filed_at") + policy.due_after


def is_overdue(due_at: datetime, now: datetime, state: AppealState) -> bool:
    """An open appeal is overdue once its due time has passed; a closed one never is."""
    return is_open(state) and _aware(now, "now") > _aware(due_at, "due_at")


def limit_reached(
    filed_before: Iterable[datetime], now: datetime, policy: AppealPolicy = DEFAULT_POLICY
) -> bool:
    """Whether a person who filed appeals at `filed_before` must wait before filing another.

    Every filing counts, withdrawn ones too, so withdrawing does not reopen the quota.
    """
    since = _aware(now, "now") - policy.daily_window
    return sum(1 for at in filed_before if _aware(at, "filed_at") > since) >= policy.daily_limit


class Queued(Protocol):
    """What the queue needs to know of an appeal."""

    @property
    def state(self) -> AppealState: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def filed_at(self) -> datetime: ...


Q = TypeVar("Q", bound=Queued)


def queue_key(appeal: Queued, now: datetime) -> tuple[bool, datetime, datetime]:
    """Sort key for a district queue: overdue first, then by due time, then by filing time."""
    return (not is_overdue(appeal.due_at, now, appeal.state), appeal.due_at, appeal.filed_at)


def queue_order(appeals: Iterable[Q], now: datetime) -> list[Q]:
    """The appeals in the order staff should work them."""
    return sorted(appeals, key=lambda appeal: queue_key(appeal, now))


_NEEDS_EVENT = {
    Category.WRONG_TRAVEL_RECORD: t(
        "name the arrival you dispute: the event_id shown with the reason for your colour"
    ),
    Category.WRONG_TEST_RESULT: t(
        "name the test result you dispute: the event_id shown with the reason for your colour"
    ),
}
_NEEDS_EVIDENCE = {
    Category.MISSING_TEST_RESULT: {
        "lab_id": t("give the id of the lab that tested you; it is printed on your test report"),
        "sample_id": t("give the sample id of the missing test; it is printed on your test report"),
    },
}


def _category_error(category: object) -> Text | None:
    if isinstance(category, Category):
        return None
    if isinstance(category, str) and category in {c.value for c in Category}:
        return None
    return t("choose one of: {options}", options=", ".join(c.value for c in Category))


def _description_error(description: object, policy: AppealPolicy) -> Text | None:
    if not isinstance(description, str) or not description.strip():
        return t("describe what is wrong and why, in a sentence or two")
    if len(description) > policy.description_max:
        return t(
            "shorten the description to at most {most} characters (it has {has})",
            most=policy.description_max,
            has=len(description),
        )
    return None


def _evidence_errors(evidence: object, policy: AppealPolicy) -> dict[str, Text]:
    if evidence is None:
        return {}
    if not isinstance(evidence, Mapping):
        return {"evidence": t("evidence must be an object of named values, such as lab_id")}
    if len(evidence) > policy.evidence_keys_max:
        return {"evidence": t("give at most {most} evidence values", most=policy.evidence_keys_max)}
    errors = {}
    for key, value in evidence.items():
        if not isinstance(value, str):
            errors[f"evidence.{key}"] = t("give this value as text")
        elif len(value) > policy.evidence_value_max:
            errors[f"evidence.{key}"] = t(
                "shorten this value to at most {most} characters", most=policy.evidence_value_max
            )
    return errors


def validate_filing(
    category: object,
    description: object,
    evidence: Mapping[str, object] | None,
    disputed_event_id: object,
    policy: AppealPolicy = DEFAULT_POLICY,
) -> dict[str, Text]:
    """Field errors of a new appeal, each saying how to fix it; empty when it may be filed."""
    errors: dict[str, Text] = {}
    if (problem := _category_error(category)) is not None:
        errors["category"] = problem
    if (problem := _description_error(description, policy)) is not None:
        errors["description"] = problem
    errors.update(_evidence_errors(evidence, policy))
    if disputed_event_id is not None and not _is_uuid(disputed_event_id):
        errors["disputed_event_id"] = t("give the event_id exactly as shown, a UUID")
    if "category" in errors:
        return errors
    kind = Category(category)
    if kind in _NEEDS_EVENT and disputed_event_id is None:
        errors["disputed_event_id"] = _NEEDS_EVENT[kind]
    given = evidence if isinstance(evidence, Mapping) else {}
    for key, message in _NEEDS_EVIDENCE.get(kind, {}).items():
        value = given.get(key)
        if not (isinstance(value, str) and value.strip()):
            errors.setdefault(f"evidence.{key}", message)
    return errors


def _is_uuid(value: object) -> bool:
    try:
        parse_event_id(value)
    except ValueError:
        return False
    return True


def _name_key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def _phone_key(phone: str) -> str:
    try:
        return normalize_phone(phone) or ""
    except ValueError:
        return ""


def evidence_matches(
    lab_record_name: str | None,
    lab_record_phone: str | None,
    person_name: str | None,
    person_phone: str | None,
) -> bool:
    """Whether an unlinked lab result is this person's: same name and same phone, strictly.

    Anything missing or ambiguous is no match: a wrong link is worse than a queued appeal.
    """
    if not (lab_record_name and lab_record_phone and person_name and person_phone):
        return False
    name = _name_key(lab_record_name)
    phone = _phone_key(lab_record_phone)
    if not name or not phone:
        return False
    return name == _name_key(person_name) and phone == _phone_key(person_phone)
