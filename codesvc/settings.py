"""Service settings: one dataclass with defaults, and the one place that reads the environment."""

from __future__ import annotations

import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from codesvc.state.rules import Rules

ENV_PREFIX = "CODESVC_"


class ConfigError(Exception):
    """A setting or a key the service cannot run with; the message says what to change.

    Raised by library code; the command line prints it and exits with status 2.
    """


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told. Each field is read from ``CODESVC_<NAME>``."""

    #: PostgreSQL to use; empty means an embedded server under ``home``.
    database_url: str = ""
    #: Local data directory: embedded PostgreSQL, development keys.
    home: Path = Path(".codesvc")
    host: str = "127.0.0.1"
    port: int = 8080
    #: Connections in the pool of one server process.
    pool_min: int = 2
    pool_max: int = 10
    #: Algorithm of the bearer tokens callers present: HS256 (shared secret) or ES256.
    auth_algorithm: str = "HS256"
    #: HS256 secret; empty means one generated into ``home`` on first start.
    auth_secret: str = ""
    #: ES256: public key (PEM file) verifying tokens; private key ``codesvc token`` signs with.
    auth_public_key_file: str = ""
    auth_private_key_file: str = ""
    #: Secret of the keyed hash that id numbers are stored as; empty means generated into ``home``.
    id_secret: str = ""
    #: Seconds a citizen's code stays valid.
    code_ttl: int = 60
    #: Secret sealing the person reference inside codes and the stored code-signing keys;
    #: empty means one generated into ``home``. Every instance of a deployment must share it.
    code_secret: str = ""
    #: Seals the TOTP secrets of staff and commission accounts in the database; empty means
    #: one generated into ``home``. Every instance must share it.
    totp_secret: str = ""
    #: The session cookie's Secure flag: auto (when the request came over https, directly or
    #: per X-Forwarded-Proto) or always (behind a TLS proxy that does not say so).
    cookie_secure: str = "auto"
    #: Seconds between automatic rotations of the code-signing key; 0 turns them off.
    code_key_rotation: float = 86400.0
    #: Event loop of ``codesvc serve``: asyncio, or uvloop (needs ``pip install uvloop``;
    #: measured no faster on the scan path here, and worse at the tail of pooled queries).
    event_loop: str = "asyncio"
    #: Seconds a shutdown waits for requests in flight.
    shutdown_timeout: float = 10.0
    #: Server processes of ``codesvc serve`` on one port; 0 means one per core.
    workers: int = 0
    #: Seconds between sweeps that move stored statuses whose deadline has passed.
    sweep_interval: float = 15.0
    #: People re-evaluated per chunk of a city-wide job (one short transaction each).
    job_chunk: int = 500
    #: Worker processes that evaluate a job's chunks beside the one storing them; 0
    #: evaluates in the job's own process (on a second connection, while the last chunk
    #: is written).
    job_processes: int = 0
    #: Scans per second one venue may make, and id-number scans per minute.
    scan_rate: float = 50.0
    id_scan_rate: float = 30.0
    #: Milliseconds a scan waits for others to share one insert of their records. 0 (the
    #: measured best): a group goes as soon as a connection is free, and the scans that
    #: arrive while both are busy gather into the next group.
    scan_group_ms: float = 0.0
    #: Days a scan record is kept; older scan partitions are dropped by the worker.
    scan_retention_days: int = 28
    #: Days of time-partitions the worker keeps created ahead of now.
    partitions_ahead_days: int = 7
    #: Hours until an appeal is due.
    appeal_due_hours: float = 24.0
    #: Appeals one person may file in 24 hours; the next gets 429.
    appeal_daily_limit: int = 3
    #: Overrides one commission member may propose in an hour before an alarm is raised.
    override_alarm_per_hour: int = 50
    #: The office a citizen is told set their colour by hand (an approved override).
    override_office: str = "市卫生健康委员会 (City Health Commission)"
    #: Ed25519 key that signs audit checkpoints (PEM); empty means ``home/checkpoint.key``,
    #: made on first start. Keep it where the database's users cannot write.
    checkpoint_key_file: str = ""
    #: JSON-lines file the signed checkpoints are appended to; empty means
    #: ``home/audit-checkpoints.jsonl``. Keep it (or a copy) off the database's machine.
    checkpoint_file: str = ""
    #: Seconds between checkpoints of the audit chain's head, while it grows.
    checkpoint_interval: float = 30.0
    #: Log format: json or text.
    log_format: str = "json"
    log_level: str = "INFO"
    #: Directory of the numbered SQL migrations.
    sql_dir: Path = Path(__file__).resolve().parent.parent / "sql"
    #: The colour rules; every number can be overridden as CODESVC_RULE_<NAME> in seconds.
    rules: Rules = field(default_factory=Rules)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from the environment; explicit overrides win."""
        env = os.environ if environ is None else environ
        types = typing.get_type_hints(cls)
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "rules":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _convert(types[f.name], raw, f.name)
        rule_values = {
            key[len(ENV_PREFIX + "RULE_") :].lower(): value
            for key, value in env.items()
            if key.startswith(ENV_PREFIX + "RULE_")
        }
        if rule_values:
            values["rules"] = _rules(rule_values)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def embedded(self) -> bool:
        return not self.database_url


def _rules(raw: Mapping[str, str]) -> Rules:
    """Rules from CODESVC_RULE_<NAME> values: whole numbers stay whole (test counts)."""
    numbers: dict[str, object] = {}
    for name, text in raw.items():
        try:
            numbers[name] = int(text) if text.strip().lstrip("-").isdigit() else float(text)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}RULE_{name.upper()}={text!r} is not a number") from None
    try:
        return Rules.from_mapping(numbers)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}RULE_*: {exc}") from None


#: How a setting's text becomes its declared type.
_CONVERTERS: Mapping[type, Callable[[str], object]] = {
    int: int,
    float: float,
    Path: Path,
    str: str,
}


def _convert(kind: type, raw: str, name: str) -> object:
    convert = _CONVERTERS[kind]
    try:
        return convert(raw)
    except ValueError:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind.__name__}"
        ) from None
