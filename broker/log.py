"""Structured logs (structlog): JSON in production, readable on a terminal, always redacted.

Redaction works by allowing, not by forbidding: a field reaches the output only if its name is
known to hold metadata (ids, digests, times, counts, reason codes); any other field is replaced by
``"[redacted]"``. A developer who logs ``summary=...`` or ``cek=...`` by mistake therefore leaks
nothing; they see ``[redacted]`` and must name the field for what it is. Bytes values are redacted
whatever their name unless the name says they are an id or a digest (shown as hex). Exceptions are
reduced to their type and, for our own errors, their one-line diagnosis, which by construction
holds no key material or case content.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

import structlog

from broker.errors import LiaisonError, PeerError

REDACTED = "[redacted]"

# Field names that only ever hold metadata. Extend deliberately, with a reason.
SAFE_FIELDS = frozenset(
    {
        "event", "level", "timestamp", "logger",
        "office", "sender", "recipient", "recipients", "partner", "peer",
        "kind", "state", "status", "reason", "rule", "suite", "version", "directory_version",
        "queue", "exchange", "routing_key", "delivery_tag", "attempt", "attempts", "delay",
        "count", "size", "elapsed", "url", "host", "port", "vhost", "path", "file",
        "adapter", "format", "transport", "component", "pid", "signal",
        # A schema path such as "persons[0].documents" (a loss report), never a value.
        "field_path",
        # Exchange logs: an origin names an office's log (network/log/office id), and a size.
        "log_origin", "tree_size",
    }
)  # fmt: skip
SAFE_SUFFIXES = ("_id", "_ids", "_digest", "_at", "_count", "_ms", "_s", "_bytes", "_index")
BYTES_SUFFIXES = ("_id", "_digest")


def _safe_value(key: str, value: Any) -> Any:
    if key == "url" and isinstance(value, str):
        parts = urlsplit(value)
        if parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[1]
            return parts._replace(netloc=f"{parts.username}:{REDACTED}@{host}").geturl()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex() if key.endswith(BYTES_SUFFIXES) else REDACTED
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe_value(key, item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    # An object's str() may include anything (a message, a key): only ids and plain values pass.
    return REDACTED


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: keep metadata fields, redact everything else (see module docstring)."""
    exc = event_dict.pop("exc_info", None)
    if exc is True:
        exc = sys.exc_info()[1]
    elif isinstance(exc, tuple):
        exc = exc[1]
    cleaned: dict[str, Any] = {}
    for key, value in event_dict.items():
        if key in SAFE_FIELDS or key.endswith(SAFE_SUFFIXES):
            cleaned[key] = _safe_value(key, value)
        else:
            cleaned[key] = REDACTED
    if isinstance(exc, BaseException):
        # Set after cleaning: only our own errors' diagnoses are known to be free of content.
        cleaned["error_type"] = type(exc).__name__
        if isinstance(exc, PeerError):
            cleaned["error"] = exc.explain()
        elif isinstance(exc, LiaisonError):
            cleaned["error"] = exc.diagnosis
    return cleaned


def configure_logging(
    *,
    fmt: Literal["auto", "json", "console"] = "auto",
    level: str = "info",
    stream: TextIO | None = None,
) -> None:
    """Set up structlog for the process: redaction always runs, last before rendering."""
    target = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if target.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=target.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(target),
        cache_logger_on_first_use=False,
    )


def get_logger(component: str) -> Any:
    """A bound logger for one component (``daemon``, ``publisher``, ...)."""
    # Bound lazily: a logger made at import time must still use the configuration set later
    # (configure_logging), or it would print unredacted. A program that uses the library
    # without configuring logging gets structlog's defaults only after our redaction is in.
    if not structlog.is_configured():
        configure_logging()
    return structlog.get_logger(component=component)
