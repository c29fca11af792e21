"""Prometheus metrics: request counts and latency per route and status, plus domain counters."""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate
from pathlib import Path

import orjson
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

#: Set in every process of ``codesvc serve``: the directory where each process leaves its
#: figures, so that /metrics, whichever process answers it, reports them all.
SHARED_DIR = "PROMETHEUS_MULTIPROC_DIR"


def shared_dir() -> Path | None:
    where = os.environ.get(SHARED_DIR)
    return Path(where) if where else None


def shared_between_processes() -> None:
    """In a freshly forked server process: keep counters in the shared directory
    (prometheus-client's multiprocess mode), whatever was imported before the fork."""
    values.ValueClass = values.MultiProcessValue()


def process_gone(pid: int) -> None:
    """A server process exited: its live gauges no longer count (its counters do)."""
    if shared_dir() is not None:
        multiprocess.mark_process_dead(pid)


BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestStats(Collector):
    """Request counts and latency per route and status, kept in plain dicts.

    Every request passes here, so it avoids the locks prometheus-client's own metrics take
    on each update (the service answers on one event-loop thread); the families are built
    only when /metrics is scraped.
    """

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts: dict[tuple[str, str, int], int] = {}
        #: The door's own count of scans answered, by the colour shown.
        self.scans_shown: dict[str, int] = {}
        #: per (method, route): a count per bucket, the +Inf count, then the sum of seconds
        self.latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        cells = self.latency.get((method, route))
        if cells is None:
            cells = self.latency[(method, route)] = [0.0] * (len(self.buckets) + 2)
        cells[bisect_left(self.buckets, seconds)] += 1
        cells[-1] += seconds

    def dump(self, directory: Path) -> None:
        """Leave this process's figures in ``directory`` for any process's /metrics."""
        path = directory / f"requests_{os.getpid()}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(
            orjson.dumps(
                {
                    "counts": [[*key, n] for key, n in self.counts.items()],
                    "latency": [[*key, cells] for key, cells in self.latency.items()],
                    "scans_shown": self.scans_shown,
                }
            )
        )
        temporary.replace(path)

    def gathered(
        self,
    ) -> tuple[
        dict[tuple[str, str, int], float], dict[tuple[str, str], list[float]], dict[str, float]
    ]:
        """Counts, latency and scans summed over every process that left figures, or this
        process's own."""
        directory = shared_dir()
        if directory is None:
            return (
                dict(self.counts),
                {k: list(v) for k, v in self.latency.items()},
                dict(self.scans_shown),
            )
        self.dump(directory)
        counts: dict[tuple[str, str, int], float] = {}
        latency: dict[tuple[str, str], list[float]] = {}
        shown: dict[str, float] = {}
        for path in directory.glob("requests_*.json"):
            try:
                figures = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # a process gone mid-write; its last whole dump is lost
            for method, route, status, n in figures["counts"]:
                counts[(method, route, status)] = counts.get((method, route, status), 0) + n
            for method, route, cells in figures["latency"]:
                total = latency.setdefault((method, route), [0.0] * len(cells))
                for i, value in enumerate(cells):
                    total[i] += value
            for color, n in figures.get("scans_shown", {}).items():
                shown[color] = shown.get(color, 0) + n
        return counts, latency, shown

    def collect(self) -> Iterator[Metric]:
        counts, latencies, shown = self.gathered()
        scans = CounterMetricFamily(
            "codesvc_scans", "Scans answered, by colour shown", labels=["color"]
        )
        for color, n in sorted(shown.items()):
            scans.add_metric([color], n)
        yield scans
        requests = CounterMetricFamily(
            "codesvc_http_requests", "HTTP requests answered", labels=["method", "route", "status"]
        )
        for (method, route, status), count in sorted(counts.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "codesvc_http_request_seconds",
            "Time to answer an HTTP request",
            labels=["method", "route"],
        )
        bounds = [*(str(b) for b in self.buckets), "+Inf"]
        for (method, route), cells in sorted(latencies.items()):
            cumulative = list(accumulate(cells[:-1]))
            latency.add_metric(
                [method, route], list(zip(bounds, cumulative, strict=True)), cells[-1]
            )
        yield latency


class Metrics:
    """One registry per application, so several apps in one process never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http = RequestStats(BUCKETS)
        r.register(self.http)
        self.events = Counter(
            "codesvc_events", "Events received, by outcome", ["kind", "status"], registry=r
        )
        self.color_changes = Counter(
            "codesvc_color_changes", "Stored colour changes, by new colour", ["color"], registry=r
        )
        self.swept = Counter(
            "codesvc_swept_persons",
            "Statuses moved by the sweeper when a deadline passed",
            registry=r,
        )
        self.scan_batch = Histogram(
            "codesvc_scan_group_size",
            "Scan records committed together",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.audit_batch = Histogram(
            "codesvc_audit_batch_size",
            "Audited reads chained by one transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.overrides_proposed = Counter(
            "codesvc_overrides_proposed",
            "Manual colour overrides proposed (who proposed is in the audit log, never a label)",
            registry=r,
        )
        self.override_alarms = Counter(
            "codesvc_override_alarms",
            "Times a commission member proposed more overrides in an hour than allowed",
            registry=r,
        )
        self.db_up = Gauge(
            "codesvc_database_up",
            "1 when the last readiness check reached the database",
            registry=r,
            multiprocess_mode="livemostrecent",
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.observe(method, route, status, seconds)

    def render(self) -> bytes:
        if shared_dir() is None:
            return generate_latest(self.registry)
        every_process = CollectorRegistry()
        multiprocess.MultiProcessCollector(every_process)
        every_process.register(self.http)
        return generate_latest(every_process)
