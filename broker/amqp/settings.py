"""Settings of the AMQP link, broker URLs and the reconnect schedule. Pure: no pika, no I/O.

A broker URL names one node of the office's site: ``amqp[s]://[user[:password]@]host[:port][/vhost]``
(vhost percent-encoded, ``/`` is ``%2F``; an empty path means ``/``). Query options are refused:
every tunable is a field of :class:`AmqpSettings`, so a URL never silently overrides one.

Reconnect delays use exponential backoff with "full jitter": the n-th consecutive failure waits a
uniform random time in ``[0, min(cap, base * 2**(n-1)))``, so many offices restarting together do
not knock on the broker in lock-step. The randomness is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from broker.config import AmqpSection
from broker.errors import ConfigError, ConfigProblem

__all__ = [
    "BACKOFF_BASE",
    "AmqpSettings",
    "BrokerAddress",
    "auth_retry_delay",
    "backoff_delay",
    "parse_broker_url",
]

DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
BACKOFF_BASE = 0.5  # seconds: the first retry waits up to half a second
MAX_PREFETCH = 65535  # basic.qos prefetch_count is an AMQP short
MAX_SHORTSTR = 255  # AMQP short strings (names, routing keys, ids) hold at most 255 bytes


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """One broker URL, parsed. ``password`` is the URL's, if any (tests use guest:guest URLs)."""

    tls: bool
    host: str
    port: int
    vhost: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def redacted(self) -> str:
        """The URL without its password: safe for logs and status output."""
        scheme = "amqps" if self.tls else "amqp"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        vhost = "%2F" if self.vhost == "/" else self.vhost.replace("/", "%2F")
        return f"{scheme}://{user}{host}:{self.port}/{vhost}"


def _shown(url: str) -> str:
    """The URL as a diagnosis may show it: without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, userinfo = head.partition("://")
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}@{tail}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse an ``amqp://`` or ``amqps://`` URL; raise ConfigError if it is not one we can use."""
    shown = _shown(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"broker URL {shown!r} is malformed (bad port or host)") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ConfigError(f"broker URL {shown!r}: scheme must be amqp:// or amqps://")
    if not parts.hostname:
        raise ConfigError(f"broker URL {shown!r}: no host")
    if parts.query or parts.fragment:
        raise ConfigError(
            f"broker URL {shown!r}: query options are not supported; use the amqp settings"
        )
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if "/" in path:
        raise ConfigError(f"broker URL {shown!r}: write a '/' inside the vhost as %2F")
    vhost = unquote(path) if path else "/"
    return BrokerAddress(
        tls=parts.scheme == "amqps",
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[parts.scheme],
        vhost=vhost,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True, slots=True)
class AmqpSettings:
    """How to reach the site's brokers. Checked on construction (ConfigError lists problems)."""

    # Nodes of the office's site, tried in order; on loss the link fails over to the next one.
    urls: tuple[str, ...]
    # Overrides the URL's user; None keeps it (a URL without one means "guest", as in pika).
    username: str | None = None
    # Never logged. None: the URL's password, or TLS client-certificate (EXTERNAL) auth when a
    # client certificate is configured.
    password: str | None = field(default=None, repr=False)
    # Seconds between AMQP heartbeats; the I/O thread never runs slow work, so they stay on time.
    heartbeat: int = 30
    # Unacknowledged deliveries held at once (basic.qos); quorum queues cap it at 2,000.
    prefetch: int = 64
    # Seconds the broker may block us (resource alarm) before the connection is dropped.
    blocked_connection_timeout: float = 60.0
    # Seconds for one attempt: TCP connect, TLS and AMQP handshake together.
    connection_attempt_timeout: float = 10.0
    # amqps: the CA bundle to verify the broker with (None: the system's); peers are always
    # verified, hostnames too.
    tls_ca_file: Path | None = None
    # amqps: client certificate and key, for brokers that require them.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Upper bound of the reconnect delay, in seconds.
    max_backoff: float = 30.0
    # Publishes sent but not yet confirmed, at most: enough to hide fsync round trips, bounded so
    # that a reconnect republishes a bounded batch.
    max_in_flight: int = 1000
    # Shown by `rabbitmqctl list_connections` and the management UI.
    connection_name: str = "liaison"

    def __post_init__(self) -> None:
        problems = [ConfigProblem(f"amqp.{key}", message) for key, message in self._problems()]
        if problems:
            noun = "problem" if len(problems) == 1 else "problems"
            raise ConfigError(f"{len(problems)} {noun} in the AMQP settings", problems)

    def _problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if not self.urls:
            found.append(("urls", "needs at least one broker URL"))
        for url in self.urls:
            try:
                parse_broker_url(url)
            except ConfigError as exc:
                found.append(("urls", exc.diagnosis))
        positive = {
            "heartbeat": self.heartbeat,
            "blocked_connection_timeout": self.blocked_connection_timeout,
            "connection_attempt_timeout": self.connection_attempt_timeout,
            "max_backoff": self.max_backoff,
            "max_in_flight": self.max_in_flight,
        }
        found.extend((key, "must be greater than 0") for key, v in positive.items() if v <= 0)
        if not 1 <= self.prefetch <= MAX_PREFETCH:
            found.append(("prefetch", f"must be between 1 and {MAX_PREFETCH}"))
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            found.append(("tls_cert_file", "a client certificate needs its key, and vice versa"))
        if not self.connection_name or len(self.connection_name.encode()) > MAX_SHORTSTR:
            found.append(("connection_name", f"must be 1 to {MAX_SHORTSTR} bytes"))
        return found

    @property
    def addresses(self) -> tuple[BrokerAddress, ...]:
        """The URLs, parsed (they were checked on construction)."""
        return tuple(parse_broker_url(url) for url in self.urls)

    @classmethod
    def from_config(cls, amqp: AmqpSection, password: str | None) -> AmqpSettings:
        """Settings from an office configuration's ``[amqp]`` section and the password it
        refers to (read by the caller from ``amqp.password_file``)."""
        return cls(
            urls=tuple(amqp.urls),
            password=password,
            heartbeat=amqp.heartbeat,
            prefetch=amqp.prefetch,
            blocked_connection_timeout=amqp.blocked_connection_timeout,
            tls_ca_file=amqp.ca_file,
            tls_cert_file=amqp.cert_file,
            tls_key_file=amqp.key_file,
        )


def backoff_delay(
    failures: int, *, cap: float, rng: Callable[[], float], base: float = BACKOFF_BASE
) -> float:
    """Seconds to wait after ``failures`` consecutive failures (>= 1): full jitter, capped."""
    exponent = min(max(failures, 1) - 1, 60)  # 2**60 * base exceeds any sane cap already
    ceiling = min(cap, base * float(2**exponent))
    return ceiling * min(max(rng(), 0.0), 1.0)


def auth_retry_delay(*, cap: float, rng: Callable[[], float]) -> float:
    """Seconds to wait after the broker refused our credentials: at least half the cap.

    Retrying a wrong password fast only fills the broker's log; an operator has to act.
    """
    return cap * (0.5 + 0.5 * min(max(rng(), 0.0), 1.0))
