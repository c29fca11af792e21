"""codesvc: a city health-code service."""

__version__ = "0.1.0"
