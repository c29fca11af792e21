"""What the commission decides for everyone: risk-area listings, test campaigns, the rules."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from codesvc.state.rules import RULES, Rules
from codesvc.state.span import covers

RiskLevel = Literal["medium", "high"]

_LEVEL_SEVERITY: Mapping[str, int] = {"medium": 1, "high": 2}


def _aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Listing:
    """An area listed at a risk level over [valid_from, valid_to); may be backdated."""

    area_code: str
    level: RiskLevel
    valid_from: datetime
    valid_to: datetime | None = None

    def __post_init__(self) -> None:
        if self.level not in _LEVEL_SEVERITY:
            raise ValueError(f"level must be one of {', '.join(_LEVEL_SEVERITY)}")
        _aware("valid_from", self.valid_from)
        if self.valid_to is not None:
            _aware("valid_to", self.valid_to)

    def covers(self, t: datetime) -> bool:
        """Whether an arrival at `t` falls inside the listing."""
        return covers(self.valid_from, self.valid_to, t)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A district-wide test campaign: everyone registered there tests within the window."""

    campaign_id: str
    districts: frozenset[str]
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        _aware("starts_at", self.starts_at)
        _aware("ends_at", self.ends_at)
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")


@dataclass(frozen=True)
class World:
    """Everything besides a person's own events that decides their colour."""

    listings: tuple[Listing, ...] = ()
    campaigns: tuple[Campaign, ...] = ()
    rules: Rules = RULES
    _by_area: Mapping[str, tuple[Listing, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _by_district: Mapping[str, tuple[Campaign, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # Indexes so that a city's worth of listings costs a dict lookup per arrival.
        by_area: dict[str, list[Listing]] = {}
        for listing in self.listings:
            by_area.setdefault(listing.area_code, []).append(listing)
        by_district: dict[str, list[Campaign]] = {}
        for campaign in self.campaigns:
            for district in campaign.districts:
                by_district.setdefault(district, []).append(campaign)
        object.__setattr__(self, "_by_area", {k: tuple(v) for k, v in by_area.items()})
        object.__setattr__(self, "_by_district", {k: tuple(v) for k, v in by_district.items()})

    def risk_level(self, area_code: str, t: datetime) -> RiskLevel | None:
        """The most severe level at which `area_code` was listed at `t`, if any."""
        level: RiskLevel | None = None
        for listing in self._by_area.get(area_code, ()):
            if listing.covers(t) and (
                level is None or _LEVEL_SEVERITY[listing.level] > _LEVEL_SEVERITY[level]
            ):
                level = listing.level
        return level

    def campaigns_in(self, district: str) -> tuple[Campaign, ...]:
        """The campaigns that include `district`, in the order given."""
        return self._by_district.get(district, ())
