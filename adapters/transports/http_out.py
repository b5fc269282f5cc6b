"""Hand-over by HTTP: each received message is POSTed to the office's own system.

One request per hand-over, no connection kept between them (hand-overs are rare and a fresh
connection never meets a half-closed one). The body is the encoded message as it is; the
headers carry the message id (also as ``Idempotency-Key``, so a retry after a lost answer
does not make a second copy on the partner's side), its kind, its sender and a file name.

TLS is always verified for https: against the system's trust store, or, when ``ca_file`` is
given, against that file alone (a private CA is then the only trust anchor). A client
certificate may be presented (mTLS). ``http://`` is refused unless the host is this machine:
case content must not cross a network in clear.

Connection errors, timeouts, 429 and 5xx are retried ``attempts`` times in all, with
exponential backoff and jitter, honouring a bounded ``Retry-After``; any other answer that is
not 2xx fails at once (the endpoint has said no; asking again would not change that).
Redirects are not followed. Errors name the host and the status or error type, never the body
or the token. The standard library is enough for one POST, and its ``ssl`` module uses the
system's trust store, which is what an office's IT unit manages.
"""

from __future__ import annotations

import http.client
import random
import ssl
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from adapters.transports import HandOver
from adapters.transports.tls import client_tls_context, is_loopback
from broker.config import HandoverSection
from broker.errors import ConfigError, TransportError
from broker.log import get_logger

FIRST_DELAY: Final = 0.5  # seconds before the second attempt; doubles each time
MAX_DELAY: Final = 30.0  # no wait between attempts is longer, whatever Retry-After says
MAX_ANSWER_BYTES: Final = 64 * 1024  # read (and discard) at most this much of an answer body
USER_AGENT: Final = "Liaison"


def _log() -> Any:
    # Looked up at each use, so the configuration the CLI sets later (redaction) applies.
    return get_logger("transport.http")


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to int()
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class HttpTransport:
    """POSTs each hand-over to one URL (see the module docstring)."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        timeout: float = 10.0,
        attempts: int = 3,
        allow_plaintext: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,  # noqa: TID251 - an edge: Retry-After dates
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("handover.url: not an http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            raise ConfigError("handover.url must not contain credentials; use a token file")
        if timeout <= 0 or attempts < 1:
            raise ConfigError("handover: timeout must be > 0 and attempts >= 1")
        try:
            self._port = parts.port
        except ValueError:
            raise ConfigError("handover.url: the port is not a number from 0 to 65535") from None
        self.url = url
        self.host = parts.hostname
        self.where = parts.netloc  # host[:port]: what errors and logs name
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._token = token
        self.timeout = timeout
        self.attempts = attempts
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._tls: ssl.SSLContext | None = None
        if token is not None and not (token.isascii() and token.isprintable() and token.strip()):
            raise ConfigError("handover: the token must be printable ASCII on one line")
        if parts.scheme == "https":
            self._tls = client_tls_context(ca_file, cert_file, key_file)
        else:
            if any(path is not None for path in (ca_file, cert_file, key_file)):
                raise ConfigError("handover: ca_file, cert_file and key_file need an https:// URL")
            if not allow_plaintext and not is_loopback(parts.hostname):
                raise ConfigError(
                    f"handover.url: http:// to {self.where} would send case content in clear; "
                    "use https://"
                )

    @classmethod
    def from_config(
        cls, section: HandoverSection, read_secret: Callable[[Path], str]
    ) -> HttpTransport:
        """The transport ``[handover]`` describes; ConfigError when it cannot be built."""
        if not section.url:
            raise ConfigError("handover.url is required when handover.transport is http")
        token = read_secret(section.token_file) if section.token_file is not None else None
        return cls(
            section.url,
            token=token,
            ca_file=section.ca_file,
            cert_file=section.cert_file,
            key_file=section.key_file,
            timeout=section.timeout_seconds,
            attempts=section.attempts,
        )

    def headers(self, handover: HandOver) -> dict[str, str]:
        message_id = handover.message_id.hex()
        headers = {
            "Content-Type": handover.encoded.media_type,
            "Idempotency-Key": message_id,
            "X-Liaison-Message-Id": message_id,
            "X-Liaison-Kind": handover.kind,
            "X-Liaison-Sender": handover.sender,
            "X-Liaison-File-Name": handover.file_name,
            "User-Agent": USER_AGENT,
            "Accept": "application/json, */*;q=0.5",
        }
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def deliver(self, handover: HandOver) -> str:
        """POST the hand-over; "HTTP <status>" once the endpoint answered 2xx, TransportError
        when it did not (after the retries the module docstring describes)."""
        headers = self.headers(handover)
        failure = ""
        for attempt in range(1, self.attempts + 1):
            delay = self._backoff(attempt)
            try:
                status, retry_after = self._post(handover.encoded.data, headers)
            except ssl.SSLCertVerificationError as exc:
                # The same certificate is presented next time: retrying now cannot help.
                raise TransportError(
                    f"hand-over to {self.where}: TLS certificate not trusted "
                    f"({exc.verify_message or 'verification failed'})"
                ) from None
            except TimeoutError:
                failure = f"timed out after {self.timeout:g} s"
            except (OSError, http.client.HTTPException) as exc:
                failure = type(exc).__name__
            else:
                if 200 <= status < 300:
                    return f"HTTP {status}"
                if status != 429 and status < 500:
                    raise TransportError(f"hand-over to {self.where} refused: HTTP {status}")
                failure = f"HTTP {status}"
                if retry_after is not None:
                    delay = min(retry_after, MAX_DELAY)
            if attempt < self.attempts:
                _log().warning(
                    "handover_http_retry", host=self.where, reason=failure, attempt=attempt,
                    delay=round(delay, 3),
                )  # fmt: skip
                self._sleep(delay)
        raise TransportError(
            f"hand-over to {self.where} failed after {self.attempts} attempt"
            f"{'s' if self.attempts > 1 else ''}: {failure}"
        )

    def _backoff(self, attempt: int) -> float:
        """Delay after a failed ``attempt``: doubling, then a random half of it taken off, so
        offices retrying after one outage do not all come back at the same instant."""
        full = min(FIRST_DELAY * float(2 ** (attempt - 1)), MAX_DELAY)
        return full * (0.5 + 0.5 * self._jitter())

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, float | None]:
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(
                self.host, self._port, timeout=self.timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(self.host, self._port, timeout=self.timeout)
        try:
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(MAX_ANSWER_BYTES)  # the answer is not used; its status is
            retry_after = retry_after_seconds(response.getheader("Retry-After"), now=self._clock())
            return response.status, retry_after
        finally:
            connection.close()


__all__ = ["HttpTransport", "retry_after_seconds"]
