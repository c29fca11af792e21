"""Rate limits: a token bucket per key (a venue, an account)."""

from __future__ import annotations


class TokenBuckets:
    """A token bucket per key (a venue), in this process: ``rate`` a second, ``burst`` at once.

    In-process on purpose: a door talks to one instance at a time through the balancer,
    and a limit per instance bounds abuse without a shared counter on the hot path.
    """

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float) -> float:
        """0 when a token was taken; otherwise the seconds until one will be there."""
        if self.rate <= 0:
            return 0.0
        state = self._buckets.get(key)
        tokens = self.burst
        if state is not None:  # a clock set back refills nothing, and takes nothing away
            tokens = min(self.burst, state[0] + max(0.0, now - state[1]) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
