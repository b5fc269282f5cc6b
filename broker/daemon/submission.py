"""``liaison submit`` and ``liaison respond``: seal, then queue durably; the daemon publishes.

Both work without a running daemon. The agreements are checked before anything is sealed
(``PolicyRefused`` names the rule; nothing is queued). Then the envelope goes into the
envelope store, and the outbox row, one delivery per recipient and the SUBMITTED entry (with
RESPONSE_SENT for a response) commit in one transaction: once the command has printed the
message id, the message will leave. The journal is flushed into the exchange log right away
when possible; otherwise the daemon does it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.daemon.office import Office
from broker.daemon.outgoing import Sealed, seal_outgoing, submitted_entries
from broker.envelope import MessageKind
from broker.errors import InputError, LiaisonError
from broker.exchange_log import DEFAULT_NETWORK, ExchangeLog
from broker.log import get_logger
from broker.messages import Message
from broker.model import CaseEnquiry, CaseResponse
from broker.office_store import InboxRow, OfficeStore


def _log() -> Any:
    # Looked up at each use: a logger bound at import time would keep structlog's defaults
    # (stdout, no redaction) if configure_logging runs later, as it does in the CLI.
    return get_logger("submit")


MESSAGE_ID_HEX = 32


@dataclass(frozen=True, slots=True)
class Queued:
    """What the command reports: the message is durable in the outbox."""

    message_id: bytes
    kind: MessageKind
    recipients: tuple[str, ...]
    enquiry_id: str
    due_at: datetime | None
    logged: bool  # the journal reached the exchange log (else the daemon will flush it)

    def to_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id.hex(),
            "kind": self.kind.name.lower(),
            "recipients": list(self.recipients),
            "enquiry_id": self.enquiry_id,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "state": "queued",
        }


def submit(
    office: Office,
    message: Message,
    *,
    now: datetime,
    to: Sequence[str] = (),
    rng: Callable[[int], bytes] = os.urandom,
    network: str = DEFAULT_NETWORK,
) -> Queued:
    """Queue an enquiry (responses go through ``respond``; receipts are the daemon's)."""
    if isinstance(message, CaseResponse):
        raise InputError("this is a response: send it with 'liaison respond ENQUIRY_ID FILE'")
    if not isinstance(message, CaseEnquiry):
        raise InputError("receipts are sent by the daemon, not submitted")
    sealed = _seal(office, message, now=now, to=to, rng=rng)  # refused: no files made
    with OfficeStore.open(office.paths.store, office_id=office.office_id) as store:
        _queue_sealed(office, store, sealed, now)
        logged = _flush(office, store, network)
    return _queued(sealed, logged)


class Submitter:
    """Submits many enquiries through one open office store: for a program that submits in
    bulk (an importer, a benchmark). Each ``submit`` is durable when it returns, like the
    command's; the exchange-log entries wait in the store's journal, which the running daemon
    flushes into the log (it does so on every turn of its loop)."""

    def __init__(self, office: Office, *, rng: Callable[[int], bytes] = os.urandom) -> None:
        self._office = office
        self._rng = rng
        self._store = OfficeStore.open(office.paths.store, office_id=office.office_id)

    def submit(self, message: CaseEnquiry, *, now: datetime, to: Sequence[str] = ()) -> Queued:
        sealed = queue_enquiry(self._office, self._store, message, now=now, to=to, rng=self._rng)
        return _queued(sealed, logged=False)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def queue_enquiry(
    office: Office,
    store: OfficeStore,
    message: CaseEnquiry,
    *,
    now: datetime,
    to: Sequence[str] = (),
    rng: Callable[[int], bytes] = os.urandom,
) -> Sealed:
    """Seal an enquiry and queue it in ``store`` (the daemon's pickup folder uses this with
    the store it holds open); the caller flushes the journal."""
    sealed = _seal(office, message, now=now, to=to, rng=rng)
    _queue_sealed(office, store, sealed, now)
    return sealed


def _queue_sealed(office: Office, store: OfficeStore, sealed: Sealed, now: datetime) -> None:
    office.paths.envelope_store().put(sealed.outgoing.envelope)
    store.queue(sealed.outgoing, submitted_entries(sealed, now=now), now=now)


def find_enquiry(store: OfficeStore, reference: str) -> InboxRow:
    """A received enquiry by its enquiry id (a UUID) or its message id (32 hex digits)."""
    if len(reference) == MESSAGE_ID_HEX and all(c in "0123456789abcdef" for c in reference):
        row = store.received(bytes.fromhex(reference))
        if row is None or row.kind is not MessageKind.ENQUIRY:
            raise InputError(f"no enquiry with message id {reference} in the inbox")
        return row
    rows = store.enquiries_received(reference)
    if not rows:
        raise InputError(f"no enquiry {reference[:64]!r} in the inbox ('liaison inbox' lists them)")
    if len(rows) > 1:
        ids = ", ".join(r.message_id.hex() for r in rows)
        raise InputError(f"several messages carry enquiry {reference}: give the message id ({ids})")
    return rows[0]


def respond(
    office: Office,
    enquiry_reference: str,
    response: Message,
    *,
    now: datetime,
    rng: Callable[[int], bytes] = os.urandom,
    network: str = DEFAULT_NETWORK,
) -> Queued:
    """Queue our response to a received enquiry, to the office that asked, and mark the
    enquiry answered, in one transaction."""
    if not isinstance(response, CaseResponse):
        raise InputError("the file is not a case response")
    with OfficeStore.open(office.paths.store, office_id=office.office_id) as store:
        sealed = queue_response(office, store, enquiry_reference, response, now=now, rng=rng)
        logged = _flush(office, store, network)
    return _queued(sealed, logged)


def queue_response(
    office: Office,
    store: OfficeStore,
    enquiry_reference: str,
    response: CaseResponse,
    *,
    now: datetime,
    rng: Callable[[int], bytes] = os.urandom,
) -> Sealed:
    """Seal a response to a received enquiry and queue it in ``store``, marking the enquiry
    answered in the same transaction; the caller flushes the journal."""
    enquiry = find_enquiry(store, enquiry_reference)
    if response.enquiry_id != enquiry.enquiry_id:
        raise InputError(
            f"the response answers enquiry {response.enquiry_id}, not {enquiry.enquiry_id}"
        )
    sealed = _seal(
        office, response, now=now, to=[enquiry.sender], rng=rng, related=enquiry.message_id
    )
    office.paths.envelope_store().put(sealed.outgoing.envelope)
    store.queue_response(
        sealed.outgoing,
        submitted_entries(sealed, now=now),
        enquiry_message_id=enquiry.message_id,
        now=now,
    )
    return sealed


def _seal(
    office: Office,
    message: Message,
    *,
    now: datetime,
    to: Sequence[str],
    rng: Callable[[int], bytes],
    related: bytes = b"",
) -> Sealed:
    return seal_outgoing(
        message,
        keys=office.keys,
        directory=office.directory,
        now=now,
        limits=office.limits,
        to=to,
        related_message_id=related,
        rng=rng,
    )


def _flush(office: Office, store: OfficeStore, network: str) -> bool:
    try:
        with ExchangeLog.open(office.paths.log, office_id=office.office_id, network=network) as log:
            store.flush_journal(log)
    except LiaisonError as exc:
        _log().warning("log_flush_deferred", exc_info=exc)  # the daemon flushes the journal
        return False
    return True


def _queued(sealed: Sealed, logged: bool) -> Queued:
    out = sealed.outgoing
    return Queued(out.message_id, out.kind, out.recipients, out.enquiry_id, out.due_at, logged)
