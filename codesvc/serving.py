"""``codesvc serve``: server processes on one port under gunicorn, the background work beside.

gunicorn's arbiter (the parent) binds the port once and forks ``workers`` server processes
running aiohttp's ``GunicornWebWorker``; it restarts one that dies and, on SIGTERM, asks each
to finish the requests in flight before it exits. The parent also runs ``codesvc worker``
(the background work) as a child, restarting it if it dies. The database the processes share
was resolved, migrated and partitioned before the first fork; an embedded PostgreSQL is
stopped last, after every server and the worker have exited.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from codesvc.settings import Settings

log = logging.getLogger("codesvc.serve")

#: Seconds between restarts of a worker process that keeps dying.
RESTART_DELAY = 2.0


class _Logs(Logger):
    """gunicorn's messages go through the service's own log handlers (JSON by default)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers = []
            logger.propagate = True


class BackgroundProcess:
    """``codesvc worker`` as a child of the server's parent process, restarted if it dies."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watch = threading.Thread(target=self._watching, name="worker watch", daemon=True)
        self._watch.start()

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "codesvc", "worker"], env=self.env, stdin=subprocess.DEVNULL
        )
        log.info("background worker started", extra={"worker_pid": self.process.pid})

    def _watching(self) -> None:
        # gunicorn's parent reaps every child, this one included, so poll rather than wait.
        while not self._stopping.wait(0.5):
            if self.process is not None and self.process.poll() is not None:
                log.warning("background worker exited; starting another")
                time.sleep(RESTART_DELAY)
                if not self._stopping.is_set():
                    self._spawn()

    def stopping(self) -> None:
        """The service is shutting down: a worker that exits now is not replaced."""
        self._stopping.set()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.join()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        except ChildProcessError:
            pass  # already reaped by gunicorn's parent


class Deployment(BaseApplication):
    """The gunicorn application: ``create_app`` in each server process."""

    def __init__(self, settings: Settings, workers: int, background: BackgroundProcess) -> None:
        self.settings = settings
        self.workers = workers
        self.background = background
        super().__init__()

    def load_config(self) -> None:
        settings = self.settings
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        loop = settings.event_loop
        hooks: dict[str, Callable[..., None]] = {
            "when_ready": lambda arbiter: self.background.start(),
            "post_fork": _post_fork,
            "post_worker_init": lambda worker: tune_gc(),
            "child_exit": _child_exit,
            "on_exit": lambda arbiter: self.background.stop(settings.shutdown_timeout + 5),
        }
        options: dict[str, object] = {
            "bind": [f"{host}:{settings.port}"],
            "workers": self.workers,
            "worker_class": "aiohttp.GunicornUVLoopWebWorker"
            if loop == "uvloop"
            else "aiohttp.GunicornWebWorker",
            "graceful_timeout": max(1, round(settings.shutdown_timeout)),
            "timeout": 30,
            "keepalive": 75,
            "accesslog": None,
            "loglevel": settings.log_level.lower(),
            "logger_class": _Logs,
            "proc_name": "codesvc",
            "control_socket_disable": True,
            # Each server process listens on its own SO_REUSEPORT socket of the same port,
            # so the kernel spreads connections evenly instead of the busiest accepting most.
            "reuse_port": True,
            **hooks,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def run(self) -> None:
        _Arbiter(self).run()

    def load(self) -> object:
        from codesvc.api.app import create_app

        return create_app(self.settings, background=False)


class _Arbiter(Arbiter):
    def halt(self, reason: str | None = None, exit_status: int = 0) -> None:
        # The worker may have had the same SIGTERM (systemd, a terminal): do not replace it.
        self.app.background.stopping()
        super().halt(reason, exit_status)


#: Allocations between young-generation collections, and collections between collections
#: of the next generation (Python's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect cyclic garbage less often in a long-running process, and never look again
    at what start-up built (modules, route tables, validators).

    A request or a batch of events allocates thousands of short-lived objects, nearly all
    freed by reference counting; with the default thresholds the collector still ran every
    700 allocations and walked the young objects each time. With these thresholds, the
    CPU of ingesting a batch of known people's results fell by about a fifth and parsing
    it by half. Garbage in cycles is still collected, a little later.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _post_fork(arbiter: object, worker: object) -> None:
    """Metrics of every process go to files the /metrics of any process reads."""
    from codesvc.api import metrics

    metrics.shared_between_processes()


def _child_exit(arbiter: object, worker: Any) -> None:
    from codesvc.api import metrics

    metrics.process_gone(worker.pid)


def _make_secrets(settings: Settings) -> None:
    """Secrets generated on first start are made here, once, before any process that reads
    them starts: the server processes and the worker then all read the same files."""
    from codesvc.api.secrets import id_secret, totp_seal
    from codesvc.codes.sealing import code_secret
    from codesvc.tokens import AuthKeys

    AuthKeys.from_settings(settings)
    id_secret(settings)
    totp_seal(settings)
    code_secret(settings.code_secret, settings.home)


def serve(settings: Settings, workers: int) -> None:
    """Run ``workers`` server processes on settings.host:port and the worker, until SIGTERM.

    ``settings.database_url`` is resolved and migrated already.
    """
    parent = os.getpid()
    _make_secrets(settings)
    metrics_dir = tempfile.mkdtemp(prefix="codesvc-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env = dict(os.environ, CODESVC_DATABASE_URL=settings.database_url)
    background = BackgroundProcess(env)
    try:
        Deployment(settings, workers, background).run()
    except SystemExit:
        if os.getpid() != parent:
            raise  # a server process leaving: gunicorn ends it with SystemExit
    finally:
        if os.getpid() == parent:
            background.stop(settings.shutdown_timeout + 5)
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
