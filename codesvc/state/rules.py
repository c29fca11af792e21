"""Every number of the colour rules (SPEC §3), with the spec's defaults, configurable."""

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Rules:
    """The numbers behind R1–R8; durations are timedeltas, counts are ints."""

    #: least time between the samples of two negative tests that count together
    test_spacing: timedelta = timedelta(hours=24)
    #: negatives that lift a yellow hold (R1 medium-risk arrival, R4 secondary contact)
    negatives_to_clear: int = 2
    #: least time a red hold lasts (R2 high-risk arrival, R3 close contact)
    red_minimum: timedelta = timedelta(days=14)
    #: R2/R3 count only negatives sampled this long after the hold began
    red_tests_after: timedelta = timedelta(days=10)
    #: negatives that (with `red_minimum`) end an R2/R3 red hold
    red_negatives_to_clear: int = 2
    #: yellow health monitoring after an R2/R3 red hold ends
    red_monitoring: timedelta = timedelta(days=7)
    #: yellow health monitoring after a discharge ends an R5 red hold
    discharge_monitoring: timedelta = timedelta(days=7)
    #: R6: time after an arrival within which the landing tests must be sampled
    landing_window: timedelta = timedelta(hours=72)
    #: R6: negatives needed within the landing window (and to lift the yellow after it)
    landing_negatives: int = 2
    #: R8: negatives that lift the yellow of a missed test campaign
    campaign_negatives: int = 1

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            minimum = 1 if isinstance(getattr(self, name), int) else 0
            if value < minimum:
                raise ValueError(f"rule {name} must be at least {minimum}, not {value}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> "Rules":
        """Rules from configuration: durations in seconds, counts as integers.

        Keys left out keep their defaults; an unknown key is an error, not a silent no-op.
        """
        kinds = {f.name: type(getattr(RULES, f.name)) for f in fields(cls)}
        changes: dict[str, int | timedelta] = {}
        for name, value in values.items():
            kind = kinds.get(name)
            if kind is None:
                raise ValueError(f"unknown rule {name!r}; expected one of {', '.join(kinds)}")
            if kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"rule {name} must be an integer count")
                changes[name] = value
            else:
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ValueError(f"rule {name} must be a number of seconds")
                changes[name] = timedelta(seconds=value)
        return replace(RULES, **changes)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, int | float]:
        """The configuration form: durations in seconds (int when whole), counts as ints."""
        result: dict[str, int | float] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, timedelta):
                seconds = value.total_seconds()
                result[f.name] = int(seconds) if seconds.is_integer() else seconds
            else:
                result[f.name] = value
        return result


#: the spec's defaults
RULES = Rules()
