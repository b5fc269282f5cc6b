"""Carrying out the verdict on one delivery: the inbox side of the daemon (its core thread).

For a new message, in this order (docs/daemon.md, "Receiving"):

1. the envelope into the envelope store (content-addressed: storing it twice is a no-op);
2. one transaction: the inbox row and its log entries (RECEIVED, and RESPONSE_RECEIVED
   or RECEIPT_RECEIVED with the effect on our outbox);
3. the hand-over: encoded in the office's format and given to its transport (``handover.py``),
   complete only when the transport confirms; a failed or refused hand-over leaves the message
   "received" (the receipt waits) and is tried again at the next chase;
4. one transaction: handed over, the HANDED_OVER entry, the signed DELIVERED receipt
   queued in the outbox with its RECEIPT_SENT entry;
5. the ack (by the caller).

The daemon runs these for a batch of deliveries inside one store transaction (group commit:
the two transactions above are savepoints of it) and acks only after it committed, so a crash
can undo a batch whose hand-overs already happened: see docs/daemon.md, "Group commit".

A crash between any two steps is finished on the next delivery of the same message (the broker
redelivers what was not acked) or at start (``resume``): every step is idempotent.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.daemon.decisions import (
    Accepted,
    Arrival,
    Context,
    Duplicate,
    Rejected,
    examine,
    plan_acceptance,
    receipt_for,
    rejection_entry,
)
from broker.daemon.handover import Handover, HandoverRefused
from broker.daemon.office import Office
from broker.daemon.outgoing import Sealed, receipt_sent_entry, seal_outgoing
from broker.envelope import Header, MessageKind
from broker.errors import (
    InputError,
    LiaisonError,
    PolicyRefused,
    RejectReason,
    TransportError,
)
from broker.exchange_log import EnvelopeStore, EventType, entry_for_envelope
from broker.exchange_log.envelope_store import MAX_STORED_BYTES
from broker.letters import open_message
from broker.log import get_logger
from broker.messages import Message
from broker.model import CaseResponse
from broker.office_store import InboxRow, InboxState, OfficeStore, RejectedRow


def _log() -> Any:
    # Looked up at each use: a logger bound at import time would keep structlog's defaults
    # (stdout, no redaction) if configure_logging runs later, as it does in the CLI.
    return get_logger("inbox")


class Settle(enum.Enum):
    """How the caller settles the delivery with the broker."""

    ACK = "ack"
    DEAD_LETTER = "dead-letter"  # reject(requeue=False): the inbox's dead-letter exchange


@dataclass
class InboundCounts:
    received: int = 0
    duplicates: int = 0
    rejected: int = 0
    handed_over: int = 0
    hand_over_failures: int = 0
    receipts_queued: int = 0


class Inbound:
    """The inbox side; every method runs on the daemon's core thread."""

    def __init__(
        self,
        office: Callable[[], Office],
        store: OfficeStore,
        envelopes: EnvelopeStore,
        handover: Handover,
        *,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._office = office  # a callable: the directory may be reloaded while we run
        self._store = store
        self._envelopes = envelopes
        self._handover = handover
        self._rng = rng
        self.counts = InboundCounts()
        self.last_failure: LiaisonError | None = None  # why the last hand-over did not happen
        # Acts on accepted CHECKPOINT messages (the core sets it: witnessing.Witness.receive).
        self.witness: Callable[[Accepted, datetime], None] | None = None

    def _context(self) -> Context:
        office = self._office()
        return Context(
            office.office_id, office.keys, office.directory, office.limits, office.user_prefix
        )

    def handle(self, arrival: Arrival, *, now: datetime) -> Settle:
        """Examine one delivery and do what the verdict says; the caller acks or dead-letters."""
        verdict = examine(arrival, self._context(), self._store, now=now)
        if isinstance(verdict, Accepted):
            return self._accept(verdict, arrival.body, now)
        if isinstance(verdict, Duplicate):
            return self._duplicate(verdict.row, now)
        return self._reject(verdict, arrival.body, now)

    # ------------------------------------------------------------ accepted

    def _accept(self, accepted: Accepted, body: bytes, now: datetime) -> Settle:
        header, message = accepted.header, accepted.letter.message
        if header.kind is MessageKind.CHECKPOINT and self.witness is not None:
            # Before the inbox row: a crash in between redelivers it, and witnessing the same
            # checkpoint twice changes nothing (docs/exchange-log.md, "Checkpoint exchange").
            self.witness(accepted, now)
        enquiry = None
        if isinstance(message, CaseResponse):
            enquiry = self._store.enquiry_sent_to(message.enquiry_id, header.sender)
        plan = plan_acceptance(accepted, body, now=now, enquiry_message_id=enquiry)
        self._envelopes.put(body)
        added, state = self._store.accept(
            plan.incoming,
            plan.entries,
            now=now,
            receipt=plan.receipt_effect,
            answers=plan.answers,
        )
        if not added:  # delivered twice at once, and the other copy won: finish it like one
            row = self._store.received(header.message_id)
            return self._duplicate(row, now) if row is not None else Settle.ACK
        self.counts.received += 1
        _log().info(
            "message_received",
            message_id=header.message_id,
            sender=header.sender,
            kind=header.kind.name.lower(),
            state=state.value if state is not None else None,
        )
        if plan.hand_over:
            self._hand_over(header, accepted.digest, message, now)
        return Settle.ACK

    def _hand_over(self, header: Header, digest: bytes, message: Message, now: datetime) -> bool:
        """Hand over and record it; False (logged, the message stays "received" for the next
        chase) when the format refuses it or the transport did not confirm."""
        try:
            handover = self._handover.prepare(header, message)
            for loss in handover.encoded.losses:
                _log().warning(
                    "hand_over_loss", message_id=header.message_id, field_path=loss.field,
                    reason=loss.reason, adapter=self._handover.codec.name,
                )  # fmt: skip
            reference = self._handover.deliver(handover)
        except LiaisonError as exc:  # refused, not confirmed, or the format cannot write it
            self.counts.hand_over_failures += 1
            self.last_failure = exc
            _log().error(
                "hand_over_refused" if isinstance(exc, HandoverRefused) else "hand_over_failed",
                message_id=header.message_id, sender=header.sender, exc_info=exc,
            )  # fmt: skip
            return False
        receipt = self._seal_receipt(header, digest, now)
        entries = [entry_for_envelope(EventType.HANDED_OVER, header, digest, time=now)]
        if receipt is not None:
            self._envelopes.put(receipt.outgoing.envelope)  # before the entry that names it
            entries.append(receipt_sent_entry(receipt, acknowledged=header.message_id, now=now))
        done = self._store.finish_hand_over(
            header.message_id,
            entries,
            now=now,
            receipt=receipt.outgoing if receipt is not None else None,
        )
        if done:
            self.counts.handed_over += 1
            self.counts.receipts_queued += receipt is not None
            _log().info(
                "message_handed_over", message_id=header.message_id, sender=header.sender,
                transport=self._handover.transport.name, file=reference,
            )  # fmt: skip
        return True

    def _seal_receipt(
        self, header: Header, digest: bytes, now: datetime, reason: RejectReason | None = None
    ) -> Sealed | None:
        office = self._office()
        receipt = receipt_for(header, digest, office_id=office.office_id, now=now, reason=reason)
        try:
            return seal_outgoing(
                receipt,
                keys=office.keys,
                directory=office.directory,
                now=now,
                limits=office.limits,
                to=[header.sender],
                related_message_id=header.message_id,
                rng=self._rng,
            )
        except (PolicyRefused, InputError) as exc:
            # No agreement lets us write to the sender: it gets no receipt, the log says why.
            _log().warning(
                "receipt_not_sent", message_id=header.message_id, sender=header.sender, exc_info=exc
            )
            return None

    # ------------------------------------------------------------ seen before

    def _duplicate(self, row: InboxRow, now: datetime) -> Settle:
        self.counts.duplicates += 1
        _log().info("duplicate_delivery", message_id=row.message_id, sender=row.sender)
        if row.state is InboxState.RECEIVED:
            self.finish(row, now=now)  # the hand-over had not happened: do it now, once
        elif row.receipt_message_id:
            self._store.resend(row.receipt_message_id)  # the original receipt, again
        return Settle.ACK

    def finish(self, row: InboxRow, *, now: datetime) -> bool:
        """Hand over an accepted message whose hand-over did not happen (a crash, a full disk):
        open it again as of its creation (it was accepted then) and carry on from step 3."""
        if row.kind not in (MessageKind.ENQUIRY, MessageKind.RESPONSE):
            return False
        office = self._office()
        letter = open_message(
            row.envelope,
            keys=office.keys,
            directory=office.directory,
            now=row.created_at,
            limits=office.limits,
        )
        return self._hand_over(letter.opened.header, row.digest, letter.message, now)

    def resume(self, *, now: datetime) -> int:
        """Finish every accepted message not yet handed over; how many were finished."""
        finished = 0
        for row in self._store.unfinished():
            self.last_failure = None
            try:
                finished += self.finish(row, now=now)
            except LiaisonError as exc:
                _log().error("hand_over_failed", message_id=row.message_id, exc_info=exc)
            if self._system_unreachable():
                break  # the office's system is not answering: one try per chase is enough
        return finished

    def _system_unreachable(self) -> bool:
        return isinstance(self.last_failure, TransportError)

    # ------------------------------------------------------------ rejected

    def _reject(self, rejected: Rejected, body: bytes, now: datetime) -> Settle:
        header = rejected.header
        if rejected.repeat is not None:
            if rejected.repeat.receipt_message_id:
                self._store.resend(rejected.repeat.receipt_message_id)
            _log().info(
                "rejected_again", message_id=rejected.repeat.message_id, reason=rejected.reason
            )
            return Settle.DEAD_LETTER
        if len(body) <= MAX_STORED_BYTES:
            self._envelopes.put(body)  # the log names it: an auditor can look at what came
        entries = [rejection_entry(rejected, now=now)]
        receipt = None
        if rejected.receipt_due and header is not None:
            receipt = self._seal_receipt(header, rejected.digest, now, rejected.peer_reason)
            if receipt is not None:
                self._envelopes.put(receipt.outgoing.envelope)
                entries.append(receipt_sent_entry(receipt, acknowledged=header.message_id, now=now))
        remembered = None
        if rejected.remembered and header is not None:
            remembered = RejectedRow(
                header.message_id,
                rejected.digest,
                header.sender,
                rejected.reason,
                receipt.outgoing.message_id if receipt is not None else b"",
            )
        self._store.record_rejection(
            entries,
            now=now,
            authentic=remembered,
            expires_at=header.expires_at if header is not None else None,
            receipt=receipt.outgoing if receipt is not None else None,
        )
        self.counts.rejected += 1
        _log().warning(
            "message_rejected",
            reason=rejected.reason,
            message_id=header.message_id if header is not None else None,
            sender=header.sender if header is not None else None,
            envelope_digest=rejected.digest,
        )
        return Settle.DEAD_LETTER
