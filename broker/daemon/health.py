"""The daemon's health: a JSON file in the data folder, rewritten every few seconds.

A supervisor (systemd, a monitoring probe, ``liaison status --health``) reads
``<data_dir>/daemon-status.json``. It says what the daemon is doing (``state``), when it last
wrote (``updated_at``; a file older than a few intervals means the daemon is gone or hung), the
AMQP link's health, counts since start, the outbox and inbox by state, the journal backlog and
the last error (its type and where, never its content). ``assess`` turns it into a verdict.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from broker.errors import ConfigError

STALE_AFTER_INTERVALS: Final = 3  # missed rewrites before the file counts as stale
MAX_STATUS_BYTES: Final = 1 << 20


def write_status(path: Path, document: dict[str, Any]) -> None:
    """Replace the status file atomically (a reader sees the old or the new one). No fsync:
    the file is rewritten every few seconds and its age tells when it is stale."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(json.dumps(document, sort_keys=True, indent=1) + "\n", encoding="utf-8")
        temp.replace(path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status the daemon wrote, or None if it never ran here."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_STATUS_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None  # a torn or foreign file says nothing about the daemon
    return document if isinstance(document, dict) else None


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    problem: str  # "" when healthy


def assess(document: dict[str, Any] | None, *, now: datetime) -> Verdict:
    """Healthy: running, written recently, and the link connected."""
    if document is None:
        return Verdict(healthy=False, problem="the daemon has never run with this data folder")
    state = document.get("state")
    try:
        updated = datetime.fromisoformat(str(document.get("updated_at")))
        interval = float(document.get("interval_s", 2.0))
    except (TypeError, ValueError):
        return Verdict(healthy=False, problem="the status file is not one the daemon wrote")
    if state != "running":
        return Verdict(healthy=False, problem=f"the daemon is {state}")
    age = now - updated
    if age > timedelta(seconds=interval * STALE_AFTER_INTERVALS):
        return Verdict(
            healthy=False,
            problem=f"the daemon has not written its status for {int(age.total_seconds())} s"
            " (stopped or hung)",
        )
    link = document.get("link") or {}
    link_state = link.get("state") if isinstance(link, dict) else None
    if link_state != "connected":
        return Verdict(healthy=False, problem=f"the broker link is {link_state}")
    return Verdict(healthy=True, problem="")
