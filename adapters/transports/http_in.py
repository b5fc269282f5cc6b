"""The partner API: a small local HTTP endpoint through which the office's system submits files.

``POST /v1/files`` stores the body in the pickup folder (the daemon takes it from there, as
if it had been dropped in directly) under a name we generate, and answers 202 with that name;
``GET /v1/files/<name>`` says what became of it: pending, done (with the daemon's result) or
failed (with its reason). The caller's file name is used for its suffix only, so no path it
sends can reach the disk. docs/adapters.md ("Transports: HTTP") is the partner's reference.

Nobody may submit anonymously: a bearer token, a client certificate (mTLS), or both are
required, and a listener off this machine must use TLS. Bodies must declare their length and
stay within ``max_bytes`` (checked before a byte is read); each connection has a socket
timeout and carries one request; at most ``max_connections`` are served at once (more are
closed at once, and the caller retries). The log says method, route, status and size, never a
file's content, the caller's file name or a token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import os
import re
import socket  # noqa: TID251 - this module is the partner API's network edge
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import urlsplit

from adapters.transports.spool import DONE, FAILED, ensure_folder, write_once
from adapters.transports.tls import describe, is_loopback, server_tls_context
from broker.config import PartnerApiSection, host_port
from broker.errors import ConfigError, LiaisonError
from broker.log import get_logger

FILES_PATH: Final = "/v1/files"
SUFFIX_PATTERN: Final = re.compile(r"\.[a-z0-9]{1,10}")
NAME_PATTERN: Final = re.compile(r"\d{8}T\d{6}-[0-9a-f]{12}" + SUFFIX_PATTERN.pattern)
DRAIN_BYTES: Final = 64 * 1024  # of a refused body, read and dropped so the answer arrives
MAX_NOTE_BYTES: Final = 1 << 20  # a result or reason note beside a file, read for GET
# The suffix a Content-Type means, for callers that send no file name.
SUFFIX_BY_MEDIA_TYPE: Final = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "text/csv": ".csv",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/json": ".json",
}


# A whole connection (handshake, headers, body, answer) may take this many socket timeouts.
WHOLE_REQUEST_FACTOR: Final = 2


def _token_text(token: str) -> bool:
    """A bearer token as HTTP carries it: visible ASCII, no spaces (RFC 6750 b64token-ish)."""
    return bool(token) and token.isascii() and token.isprintable() and " " not in token


def _log() -> Any:
    # Looked up at each use, so the configuration the CLI sets later (redaction) applies.
    return get_logger("partner-api")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets or not) as a host and a port; ConfigError otherwise."""
    return host_port(listen, setting="partner_api.listen")


def suffix_of(file_name: str | None, content_type: str | None) -> str | None:
    """The suffix a submission declares: the last suffix of its file name (any folders in it,
    either slash, are ignored), else the one its Content-Type means; lower-cased."""
    if file_name:
        return PurePosixPath(file_name.replace("\\", "/")).suffix.lower() or None
    if content_type:
        return SUFFIX_BY_MEDIA_TYPE.get(content_type.split(";", 1)[0].strip().lower())
    return None


def generated_name(now: dt.datetime, random_bytes: bytes, suffix: str) -> str:
    """``<UTC yyyymmddThhmmss>-<12 hex><suffix>``: sortable by arrival, never guessable."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%S}-{random_bytes[:6].hex()}{suffix}"


class PartnerApi:
    """The endpoint (see the module docstring): ``start()``, ``address``, ``stop()``."""

    def __init__(
        self,
        listen: str,
        *,
        pickup_dir: Path,
        suffixes: Iterable[str],
        max_bytes: int,
        token: str | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        client_ca_file: Path | None = None,
        timeout: float = 30.0,
        max_connections: int = 8,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.host, self.port = parse_listen(listen)
        self.pickup_dir = pickup_dir
        self.suffixes = frozenset(suffixes)
        if not self.suffixes or not all(SUFFIX_PATTERN.fullmatch(s) for s in self.suffixes):
            raise ConfigError("partner_api: suffixes must be like .xml (lower case, with the dot)")
        if max_bytes <= 0 or timeout <= 0 or max_connections <= 0:
            raise ConfigError("partner_api: max_bytes, timeout and max_connections must be > 0")
        if token is not None and not _token_text(token):
            raise ConfigError("partner_api: the token must be printable ASCII on one line")
        if token is None and client_ca_file is None:
            raise ConfigError(
                "partner_api needs token_file, client_ca_file or both: "
                "an endpoint that accepts case files from anyone is not allowed"
            )
        if cert_file is None and (key_file is not None or client_ca_file is not None):
            raise ConfigError("partner_api: key_file and client_ca_file need cert_file (TLS)")
        if cert_file is None and not is_loopback(self.host):
            raise ConfigError(
                f"partner_api.listen: {self.host} is reachable from other machines; "
                "set cert_file and key_file (TLS) or listen on 127.0.0.1"
            )
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_connections = max_connections
        self._token = token.encode("utf-8") if token is not None else None
        self._tls = (
            server_tls_context(cert_file, key_file, client_ca_file)
            if cert_file is not None
            else None
        )
        self._now = now
        self._rng = rng
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(
        cls,
        section: PartnerApiSection,
        *,
        pickup_dir: Path,
        suffixes: Iterable[str],
        max_bytes: int,
        read_secret: Callable[[Path], str],
    ) -> PartnerApi:
        """The endpoint ``[partner_api]`` describes; ConfigError when it cannot be built."""
        if not section.listen:
            raise ConfigError("partner_api.listen is empty: the endpoint is off")
        token = read_secret(section.token_file) if section.token_file is not None else None
        return cls(
            section.listen,
            pickup_dir=pickup_dir,
            suffixes=suffixes,
            max_bytes=max_bytes,
            token=token,
            cert_file=section.cert_file,
            key_file=section.key_file,
            client_ca_file=section.client_ca_file,
        )

    @property
    def scheme(self) -> str:
        return "https" if self._tls is not None else "http"

    @property
    def address(self) -> tuple[str, int]:
        """The host and port listened on (the real port when 0 was asked for)."""
        if self._server is None:
            raise RuntimeError("the partner API is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        if self._server is not None:
            return
        ensure_folder(self.pickup_dir)
        try:
            server = _Server(self, (self.host, self.port), self._tls)
        except OSError as exc:
            raise ConfigError(
                f"partner_api: cannot listen on {self.host}:{self.port}: {describe(exc)}"
            ) from None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="partner-api",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        host, port = self.address
        _log().info("partner_api_listening", host=host, port=port, transport=self.scheme)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    # ------------------------------------------------------------- what a request gets

    def authorised(self, authorization: str | None) -> bool:
        """A client certificate was verified in the handshake already; this checks the token."""
        if self._token is None:
            return True
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(presented.strip().encode("utf-8"), self._token)

    def precheck_submission(
        self, length: str | None, chunked: bool, file_name: str | None, content_type: str | None
    ) -> Reply | str:
        """The reply refusing a submission before its body is read, or the suffix to store
        it under."""
        if chunked or length is None:
            return Reply(411, {"error": "Content-Length required"})
        if not (length.isascii() and length.isdigit()):
            return Reply(400, {"error": "Content-Length is not a number"})
        if int(length) > self.max_bytes:
            return Reply(413, {"error": f"larger than {self.max_bytes} bytes"})
        if int(length) == 0:
            return Reply(400, {"error": "empty body"})
        suffix = suffix_of(file_name, content_type)
        if suffix not in self.suffixes:
            allowed = ", ".join(sorted(self.suffixes))
            return Reply(415, {"error": f"file type must be one of {allowed}"})
        return suffix

    def store(self, data: bytes, suffix: str) -> Reply:
        for _ in range(3):  # 48 random bits per second: a clash is all but impossible
            name = generated_name(self._now(), self._rng(6), suffix)
            try:
                written = write_once(self.pickup_dir, name, data, rng=self._rng)
            except LiaisonError as exc:
                _log().error("partner_api_store_failed", reason=exc.diagnosis)
                return Reply(500, {"error": "cannot store the file"})
            if written:
                status_url = f"{FILES_PATH}/{name}"
                return Reply(
                    202, {"file": name, "status_url": status_url}, (("Location", status_url),)
                )
        return Reply(500, {"error": "cannot store the file"})

    def status(self, name: str) -> Reply:  # noqa: PLR0911 - one return per fate
        """What became of a file submitted earlier (or dropped in directly)."""
        if not NAME_PATTERN.fullmatch(name):
            return Reply(404, {"error": "no such file"})
        if (self.pickup_dir / name).is_file():
            return Reply(200, {"file": name, "status": "pending"})
        # Files only move forward (pickup, then done/ or failed/), so looking in this order
        # cannot miss one that moves meanwhile. The note is written just after the move: a
        # file without its note yet is still pending.
        if (self.pickup_dir / DONE / name).is_file():
            note = _read_note(self.pickup_dir / DONE / f"{name}.result.json")
            if note is None:
                return Reply(200, {"file": name, "status": "pending"})
            try:
                result = json.loads(note)
            except ValueError:
                return Reply(500, {"error": "the result note is not JSON"})
            return Reply(200, {"file": name, "status": "done", "result": result})
        if (self.pickup_dir / FAILED / name).is_file():
            note = _read_note(self.pickup_dir / FAILED / f"{name}.reason.txt")
            if note is None:
                return Reply(200, {"file": name, "status": "pending"})
            reason = note.decode("utf-8", errors="replace").strip()
            return Reply(200, {"file": name, "status": "failed", "reason": reason})
        return Reply(404, {"error": "no such file"})


def _read_note(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_NOTE_BYTES)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, api: PartnerApi, address: tuple[str, int], tls: ssl.SSLContext | None
    ) -> None:
        self.api = api
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(api.max_connections)
        super().__init__(address, _Handler)
        if tls is not None:
            # The handshake happens in the request's thread, under its timeout, so a client
            # that connects and says nothing cannot stall the accepting thread.
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN (a DNS query) for nothing we use.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _log().warning("partner_api_busy_connection_closed", count=self.api.max_connections)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        # A failed TLS handshake (no or an untrusted client certificate), a timeout, a reset:
        # the type is enough for the operator; socketserver's default prints a traceback.
        error = sys.exc_info()[1]
        _log().warning(
            "partner_api_connection_failed", peer=str(client_address[0]),
            reason=type(error).__name__ if error is not None else "unknown",
        )  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "Liaison"
    sys_version = ""

    body_read = False

    def setup(self) -> None:
        # The socket timeout bounds each read; the deadline bounds the whole connection, so a
        # caller sending a byte now and then cannot hold one of the few slots for ever.
        self._deadline = threading.Timer(WHOLE_REQUEST_FACTOR * self.server.api.timeout, self._cut)
        self._deadline.daemon = True
        self._deadline.start()
        self.request.settimeout(self.server.api.timeout)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def _cut(self) -> None:
        _log().warning("partner_api_request_too_slow", peer=str(self.client_address[0]))
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        self._deadline.cancel()
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # the request line holds the caller's path; we log our own fields instead

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base answers in HTML (a bad request line, an unknown method): ours is JSON.
        del explain
        error = message or self.responses.get(code, ("error",))[0]
        self._send(Reply(code, {"error": error}), self.command or "-", "other", 0)

    def handle_expect_100(self) -> bool:
        # Refuse a body we would not take before the caller sends it.
        if self.path == FILES_PATH and self.command == "POST":
            refusal = self._refusal()
            if refusal is not None:
                self._send(refusal, "POST", "submit", 0)
                return False
        return super().handle_expect_100()

    def do_POST(self) -> None:
        self._route("POST")

    def do_GET(self) -> None:
        self._route("GET")

    def _route(self, method: str) -> None:
        self.close_connection = True
        path = urlsplit(self.path).path
        api = self.server.api
        if path == FILES_PATH:
            route = "submit"
        elif path.startswith(f"{FILES_PATH}/"):
            route = "status"
        else:
            self._send(Reply(404, {"error": "not found"}), method, "other", 0)
            return
        if not api.authorised(self.headers.get("Authorization")):
            reply = Reply(401, {"error": "unauthorised"}, (("WWW-Authenticate", "Bearer"),))
            self._send(reply, method, route, 0)
            return
        wanted = "POST" if route == "submit" else "GET"
        if method != wanted:
            self._send(Reply(405, {"error": "method not allowed"}, (("Allow", wanted),)),
                       method, route, 0)  # fmt: skip
            return
        if route == "status":
            self._send(api.status(path[len(FILES_PATH) + 1 :]), method, route, 0)
            return
        self._submit()

    def _refusal(self) -> Reply | None:
        api = self.server.api
        if not api.authorised(self.headers.get("Authorization")):
            return Reply(401, {"error": "unauthorised"}, (("WWW-Authenticate", "Bearer"),))
        checked = self._precheck()
        return checked if isinstance(checked, Reply) else None

    def _precheck(self) -> Reply | str:
        return self.server.api.precheck_submission(
            self.headers.get("Content-Length"),
            "Transfer-Encoding" in self.headers,
            self.headers.get("X-Liaison-File-Name"),
            self.headers.get("Content-Type"),
        )

    def _submit(self) -> None:
        checked = self._precheck()
        if isinstance(checked, Reply):
            self._send(checked, "POST", "submit", 0)
            return
        length = int(self.headers["Content-Length"])
        try:
            data = self.rfile.read(length)
            self.body_read = True
        except TimeoutError:
            self.body_read = True  # what is left will not come now
            self._send(Reply(408, {"error": "the body did not arrive in time"}), "POST",
                       "submit", 0)  # fmt: skip
            return
        if len(data) != length:
            _log().warning("partner_api_body_cut_short", path="POST /v1/files", size=len(data))
            return  # the caller went away: nothing to answer, nothing stored
        self._send(self.server.api.store(data, checked), "POST", "submit", length)

    def _drain(self) -> None:
        """Read and drop a little of a body we refuse: closing a socket with unread data
        resets the connection, and the caller might lose our answer with it. A caller that
        sent ``Expect: 100-continue`` has not sent its body, and large ones are not read."""
        headers = getattr(self, "headers", None)  # absent when the request line was bad
        if self.command != "POST" or self.body_read or headers is None or "Expect" in headers:
            return
        self.body_read = True
        length = headers.get("Content-Length", "")
        if not (length.isascii() and length.isdigit()) or int(length) > DRAIN_BYTES:
            return
        try:
            self.request.settimeout(1.0)
            self.rfile.read(int(length))
        except OSError:
            pass  # the caller went away: nothing more to protect

    def _send(self, reply: Reply, method: str, route: str, size: int) -> None:
        self._drain()
        body = (json.dumps(reply.body, sort_keys=True) + "\n").encode("utf-8")
        self.close_connection = True
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        for name, value in reply.headers:
            self.send_header(name, value)
        template = {"submit": FILES_PATH, "status": f"{FILES_PATH}/{{name}}"}.get(route, "other")
        # Logged before the answer leaves: whoever sees the answer can find its log line.
        _log().info(
            "partner_api_request", path=f"{method} {template}", status=reply.status, size=size,
            file=reply.body.get("file"), peer=str(self.client_address[0]),
        )  # fmt: skip
        self.end_headers()
        self.wfile.write(body)


__all__ = ["PartnerApi", "generated_name", "parse_listen", "suffix_of"]
