"""The three colours of a health code, ordered by how much they restrict a person."""

from enum import Enum


class Color(Enum):
    """A health code's colour; its value is the wire string."""

    #: no active hold: the person goes anywhere
    GREEN = "green"
    #: a hold that tests or time will lift: limited access, tests required
    YELLOW = "yellow"
    #: quarantine or treatment: no access
    RED = "red"

    # Members are singletons that compare by identity: hash them by identity too, in C,
    # rather than by Enum's hash of the name in Python (the fold hashes colours by the
    # thousand when it reconciles a batch's history).
    __hash__ = object.__hash__

    @property
    def severity(self) -> int:
        """0 for green, 1 for yellow, 2 for red: the most severe active hold wins."""
        return _SEVERITY[self]


_SEVERITY = {Color.GREEN: 0, Color.YELLOW: 1, Color.RED: 2}
