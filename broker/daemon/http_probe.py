"""The daemon's HTTP endpoint for monitoring: ``/metrics`` (Prometheus), ``/healthz`` (alive)
and ``/readyz`` (doing its job). An I/O edge: a stdlib HTTP server on a thread of its own,
listening only where ``[metrics] listen`` says (off when it is empty).

* ``/healthz``: 200 while the daemon's core thread runs and its status is fresh (rewritten
  within three health intervals, or not yet written while it starts); else 503. For a
  liveness probe: restart the daemon when it fails.
* ``/readyz``: 200 only while the daemon is running, its status fresh and its AMQP link
  connected (``broker.daemon.health.assess``, the verdict of ``liaison status --health``);
  else 503. For alerting and load balancers: a daemon cut off from its broker is alive but
  not ready.

Both answer a small JSON document (state, problem, status age); ``/metrics`` is the
collector of :mod:`broker.daemon.metrics`. Requests are served from the status document the
daemon already computed, so a scrape never reaches the store, the log or the broker. There is
no authentication: bind it to localhost or a monitoring network (docs/operations.md).
"""

from __future__ import annotations

import json
import socket  # noqa: TID251 - this module is the probe's network edge
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from broker.config import host_port
from broker.daemon.health import STALE_AFTER_INTERVALS, assess
from broker.daemon.metrics import daemon_registry
from broker.errors import ConfigError
from broker.log import get_logger

REQUEST_TIMEOUT: Final = 10.0  # seconds a client may take to send its request
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DaemonView(Protocol):
    """What the probe reads of the daemon (``OfficeDaemon`` has both)."""

    @property
    def alive(self) -> bool: ...

    @property
    def status(self) -> dict[str, Any]: ...


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as (host, port); config.py checked the form."""
    return host_port(value, setting="metrics.listen")


def _age(status: Mapping[str, Any], now: datetime) -> timedelta | None:
    try:
        updated = datetime.fromisoformat(str(status.get("updated_at")))
        return now - updated
    except (TypeError, ValueError):
        return None


def liveness(
    status: Mapping[str, Any], now: datetime, *, alive: bool
) -> tuple[bool, dict[str, Any]]:
    """(healthy, body) of ``/healthz`` (see the module docstring)."""
    state = str(status.get("state") or "starting")
    age = _age(status, now) if status else None
    body: dict[str, Any] = {
        "state": state,
        "status_age_s": None if age is None else round(age.total_seconds(), 3),
    }
    if not alive:
        return False, body | {"problem": "the daemon's core thread is not running"}
    if not status:
        return True, body | {"problem": None}  # starting: the first status is on its way
    try:
        interval = float(status.get("interval_s", 2.0))
    except (TypeError, ValueError):
        interval = 2.0
    if age is None or age.total_seconds() < 0:
        return False, body | {"problem": "the status has no valid time"}
    if age > timedelta(seconds=interval * STALE_AFTER_INTERVALS):
        return False, body | {"problem": "the status is stale: the core thread is stuck"}
    return True, body | {"problem": None}


def readiness(
    status: Mapping[str, Any], now: datetime, *, alive: bool
) -> tuple[bool, dict[str, Any]]:
    """(ready, body) of ``/readyz``: alive, and the verdict of ``liaison status --health``."""
    live, body = liveness(status, now, alive=alive)
    if not live:
        return False, body
    verdict = assess(dict(status) if status else None, now=now)
    link = status.get("link")
    body["link"] = link.get("state") if isinstance(link, Mapping) else None
    return verdict.healthy, body | {"problem": verdict.problem or None}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _handler(
    daemon: DaemonView, registry: CollectorRegistry, clock: Clock
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT
        server_version = "liaison-probe"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encode, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, encode(registry), content_type)
            elif path in ("/healthz", "/readyz"):
                judge = liveness if path == "/healthz" else readiness
                ok, body = judge(daemon.status, clock(), alive=daemon.alive)
                data = json.dumps(body, sort_keys=True).encode() + b"\n"
                self._send(200 if ok else 503, data, "application/json")
            else:
                self._send(404, b"not found: /metrics, /healthz, /readyz\n", "text/plain")

        def _send(self, code: int, data: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's
            pass  # scrapes every few seconds would drown the daemon's own log

    return Handler


class ProbeServer:
    """The endpoint (see the module docstring): binds in the constructor (ConfigError if it
    cannot), serves after ``start()``, until ``stop()``."""

    def __init__(
        self, listen: str, daemon: DaemonView, *, office_id: str, clock: Clock = _utc_now
    ) -> None:
        host, port = parse_listen(listen)
        registry = daemon_registry(office_id, lambda: daemon.status, clock)
        server_class = type(
            "_Server6" if ":" in host else "_Server4",
            (_Server,),
            {"address_family": socket.AF_INET6 if ":" in host else socket.AF_INET},
        )
        try:
            self._server = server_class((host, port), _handler(daemon, registry, clock))
        except OSError as exc:
            raise ConfigError(
                f"metrics.listen: cannot listen on {listen}: {exc.strerror or exc}"
            ) from None
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="liaison-probe",
            daemon=True,
        )
        self._thread.start()
        get_logger("daemon").info("probe_listening", host=self.host, port=self.port)

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5.0)
            self._thread = None
        self._server.server_close()


def start_probe(listen: str, daemon: DaemonView, *, office_id: str) -> ProbeServer | None:
    """The endpoint serving, or None when ``listen`` is empty (off)."""
    if not listen:
        return None
    probe = ProbeServer(listen, daemon, office_id=office_id)
    probe.start()
    return probe


__all__ = ["DaemonView", "ProbeServer", "liveness", "parse_listen", "readiness", "start_probe"]
