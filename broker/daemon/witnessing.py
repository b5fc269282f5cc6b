"""The daemon's checkpoint exchange: sending our checkpoints to partners, cosigning theirs,
keeping their cosignatures on ours, raising fork alarms (docs/exchange-log.md, "Checkpoint
exchange"). Runs on the core thread; the decisions are :mod:`broker.daemon.witness`'s.

Round trip, A's log witnessed by B::

    A ── CHECKPOINT(checkpoint = A's latest, proof from the size B last cosigned) ──▶ B
         B opens it with A's log key, judges it against the last of A's it cosigned:
         consistent ▶ cosign, keep, reply; fork or failed proof ▶ fork alarm, no reply
    A ◀── CHECKPOINT(cosigned = that checkpoint with B's cosignature line) ─────────── B
         A checks the cosignature and that the root is its log's at that size, keeps it

A reply carries only ``cosigned`` and is never answered, so the exchange cannot loop. When B
returns an older checkpoint than A's latest (it had not seen a newer one, or not the proof A
assumed), A sends its latest again at once, proven from that size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from broker.daemon.decisions import Accepted
from broker.daemon.office import Office
from broker.daemon.outgoing import Sealed, seal_outgoing
from broker.daemon.witness import (
    AlreadyCosigned,
    Cosign,
    ForkAlarm,
    Rebase,
    Stale,
    check_cosignature,
    cosigner_verifiers,
    held_checkpoint,
    judge,
    log_verifiers,
    open_partner_checkpoint,
)
from broker.envelope import Header
from broker.errors import InputError, IntegrityError, PolicyRefused
from broker.exchange_log import EnvelopeStore, EventType, ExchangeLog, LogEntry, entry_for_envelope
from broker.ledger import (
    Cosigner,
    add_cosignatures,
    cosign_checkpoint,
    office_cosigner_name,
    office_origin,
)
from broker.log import get_logger
from broker.model.checkpoint_exchange import CheckpointExchange
from broker.office_store import OfficeStore
from broker.office_store.witness import ForkAlarmRow, WitnessStore
from broker.policy import allowed_recipients

# A checkpoint message is only worth anything while it is the latest: no long validity.
CHECKPOINT_LIFETIME = timedelta(days=1)


def _log() -> Any:
    return get_logger("witness")


@dataclass
class WitnessCounts:
    checkpoints_sent: int = 0
    checkpoints_cosigned: int = 0
    cosignatures_received: int = 0
    checkpoints_refused: int = 0
    fork_alarms_raised: int = 0


class Witness:
    """One office's side of the checkpoint exchange (see the module docstring)."""

    def __init__(
        self,
        office: Callable[[], Office],
        store: OfficeStore,
        log: ExchangeLog,
        envelopes: EnvelopeStore,
        *,
        network: str,
        interval: float,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._office = office  # a callable: the directory may be reloaded while we run
        self._tables = WitnessStore(store.db, store.office_id)
        self._log = log
        self._envelopes = envelopes
        self._network = network
        self._interval = interval
        self._rng = rng
        self._origin = office_origin(network, store.office_id)
        # The first share waits one interval too: a daemon restarted often must not send a
        # checkpoint each time it starts.
        self._shared_at = time.monotonic()
        self._shared_size = 0
        self._sent: dict[str, tuple[int, int]] = {}  # partner -> (size, proof_from) last sent
        self.counts = WitnessCounts()

    # ------------------------------------------------------------ sending ours

    def share(self, now: datetime) -> int:
        """Queue our latest checkpoint for every office we have exchanged messages with and
        an agreement in force still names, when it is newer than the last shared and
        ``interval`` has passed (since the last share, or the start); how many were queued.
        (Not every office the agreements name: the broker refuses, and closes the channel,
        when no route was set up for one.)"""
        moment = time.monotonic()
        if moment - self._shared_at < self._interval:
            return 0
        latest = self._log.latest_checkpoint()
        if latest is None or latest.size <= self._shared_size:
            return 0
        self._shared_at, self._shared_size = moment, latest.size
        office = self._office()
        allowed = allowed_recipients(office.directory, office.office_id, now)
        partners = sorted(self._tables.correspondents() & allowed)
        return sum(self._share_to(partner, latest.size, latest.note, now) for partner in partners)

    def _share_to(self, partner: str, size: int, note: bytes, now: datetime) -> bool:
        base = self._tables.proof_base(partner)
        if base >= size or self._sent.get(partner) == (size, base):
            return False  # it cosigned this one already, or has it with this very proof
        proof = self._log.consistency_proof(base, size).hashes if base else ()
        message = CheckpointExchange(
            office=self._tables.office_id,
            checkpoint=note,
            proof_from=base,
            consistency_proof=proof,
        )
        if not self._send(message, partner, [], now):
            return False
        self._sent[partner] = (size, base)
        self.counts.checkpoints_sent += 1
        return True

    def _seal(self, message: CheckpointExchange, partner: str, now: datetime) -> Sealed | None:
        office = self._office()
        try:
            sealed = seal_outgoing(
                message,
                keys=office.keys,
                directory=office.directory,
                now=now,
                limits=office.limits,
                to=[partner],
                lifetime=CHECKPOINT_LIFETIME,
                rng=self._rng,
            )
        except (PolicyRefused, InputError) as exc:
            _log().warning("checkpoint_not_sent", recipient=partner, exc_info=exc)
            return None
        self._envelopes.put(sealed.outgoing.envelope)  # before the entry that names it
        return sealed

    def _send(
        self, message: CheckpointExchange, partner: str, entries: list[LogEntry], now: datetime
    ) -> bool:
        sealed = self._seal(message, partner, now)
        if sealed is None:
            return False
        self._tables.queue(sealed.outgoing, [*entries, self._submitted(sealed, now)], now=now)
        return True

    @staticmethod
    def _submitted(sealed: Sealed, now: datetime) -> LogEntry:
        return entry_for_envelope(
            EventType.SUBMITTED, sealed.header, sealed.outgoing.digest, time=now
        )

    # ------------------------------------------------------------ receiving

    def receive(self, accepted: Accepted, now: datetime) -> None:
        """Act on an accepted CHECKPOINT message. A checkpoint or cosignature that does not
        verify is logged and counted, never fatal: the envelope was authentic and is kept."""
        header, message = accepted.header, accepted.letter.message
        if not isinstance(message, CheckpointExchange):
            return
        try:
            if message.cosigned:
                self._take_cosignature(header, accepted.digest, message.cosigned, now)
            if message.checkpoint:
                self._witness(header, accepted.digest, message, now)
        except IntegrityError as exc:
            self.counts.checkpoints_refused += 1
            _log().warning(
                "checkpoint_refused",
                sender=header.sender,
                message_id=header.message_id,
                exc_info=exc,
            )

    def _take_cosignature(self, header: Header, digest: bytes, note: bytes, now: datetime) -> None:
        office = self._office()
        cosigners = cosigner_verifiers(
            office.directory, header.sender, network=self._network, at=header.created_at
        )
        checked = check_cosignature(
            note,
            origin=self._origin,
            cosigners=cosigners,
            root_at=self._log.root,
            log_size=self._log.size,
        )
        entry = self._about(
            EventType.COSIGNATURE_RECEIVED,
            header,
            digest,
            now,
            origin=self._origin,
            size=checked.size,
            root=self._log.root(checked.size),
        )
        added = self._tables.record_cosignature(
            cosigner=header.sender,
            size=checked.size,
            timestamp=checked.cosignature.timestamp,
            note=note,
            entries=[entry],
            now=now,
        )
        if added:
            self.counts.cosignatures_received += 1
            _log().info("checkpoint_cosigned_by", sender=header.sender, tree_size=checked.size)
        latest = self._log.latest_checkpoint()
        if latest is not None and checked.size < latest.size:
            # It stands at an older checkpoint: show it the latest, proven from there.
            self._share_to(header.sender, latest.size, latest.note, now)

    def _witness(
        self, header: Header, digest: bytes, message: CheckpointExchange, now: datetime
    ) -> None:
        office = self._office()
        origin = office_origin(self._network, header.sender)
        verifiers = log_verifiers(
            office.directory, header.sender, network=self._network, at=header.created_at
        )
        new = open_partner_checkpoint(message.checkpoint, origin=origin, verifiers=verifiers)
        last_note = self._tables.last_cosigned(origin)
        last = held_checkpoint(last_note) if last_note is not None else None
        held_note = None
        if last is not None and new.checkpoint.size < last.checkpoint.size:
            held_note = self._tables.cosigned_at(origin, new.checkpoint.size)
        verdict = judge(
            last,
            new,
            proof_from=message.proof_from,
            proof=message.consistency_proof,
            held_at_size=held_checkpoint(held_note) if held_note is not None else None,
        )
        if isinstance(verdict, Cosign):
            self._cosign(header, digest, verdict, now)
        elif isinstance(verdict, ForkAlarm):
            self._alarm(header, digest, verdict, now)
        elif isinstance(verdict, AlreadyCosigned | Rebase | Stale):
            # Our last cosigned copy goes back: the sender learns where we stand.
            reply = CheckpointExchange(office=office.office_id, cosigned=verdict.last.signed)
            self._send(reply, header.sender, [], now)
            _log().info(
                "checkpoint_answered",
                sender=header.sender,
                tree_size=new.checkpoint.size,
                status=type(verdict).__name__.lower(),
            )

    def _cosign(self, header: Header, digest: bytes, verdict: Cosign, now: datetime) -> None:
        office = self._office()
        cosigner = Cosigner(
            office_cosigner_name(self._network, office.office_id), office.keys.signing
        )
        checkpoint = verdict.checkpoint.checkpoint
        line = cosign_checkpoint(verdict.checkpoint, cosigner, now)
        cosigned = add_cosignatures(verdict.checkpoint.signed, [line])
        reply = self._seal(
            CheckpointExchange(office=office.office_id, cosigned=cosigned), header.sender, now
        )
        entries = [
            self._about(
                EventType.CHECKPOINT_COSIGNED,
                header,
                digest,
                now,
                origin=checkpoint.origin,
                size=checkpoint.size,
                root=checkpoint.root_hash,
            )
        ]
        if reply is not None:
            entries.append(self._submitted(reply, now))
        added = self._tables.record_cosigned(
            origin=checkpoint.origin,
            office=header.sender,
            size=checkpoint.size,
            root=checkpoint.root_hash,
            note=cosigned,
            entries=entries,
            reply=reply.outgoing if reply is not None else None,
            now=now,
        )
        if added:
            self.counts.checkpoints_cosigned += 1
            _log().info("checkpoint_cosigned", sender=header.sender, tree_size=checkpoint.size)

    def _alarm(self, header: Header, digest: bytes, alarm: ForkAlarm, now: datetime) -> None:
        held, received = alarm.held.checkpoint, alarm.received.checkpoint
        entry = self._about(
            EventType.FORK_ALARM,
            header,
            digest,
            now,
            origin=received.origin,
            size=received.size,
            root=held.root_hash,
            other_root=received.root_hash,
            reason=alarm.reason.value,
        )
        row = ForkAlarmRow(
            office=header.sender,
            origin=received.origin,
            size=received.size,
            reason=alarm.reason.value,
            detail=alarm.detail,
            raised_at=now,
            envelope_digest=digest,
            held=alarm.held.signed,
            received=alarm.received.signed,
        )
        if self._tables.record_alarm(row, [entry], now=now):
            self.counts.fork_alarms_raised += 1
        _log().error(
            "fork_alarm",
            sender=header.sender,
            log_origin=received.origin,
            reason=alarm.reason.value,
            tree_size=received.size,
            envelope_digest=digest,
            exc_info=IntegrityError(alarm.detail),  # the diagnosis: sizes and roots only
        )

    @staticmethod
    def _about(
        event: EventType,
        header: Header,
        digest: bytes,
        now: datetime,
        *,
        origin: str,
        size: int,
        root: bytes,
        other_root: bytes = b"",
        reason: str = "",
    ) -> LogEntry:
        """An entry about a checkpoint, naming the envelope that carried it (the evidence)."""
        return LogEntry(
            event=event,
            time=now,
            message_id=header.message_id,
            kind=header.kind,
            sender=header.sender,
            envelope_digest=digest,
            reason=reason,
            log_origin=origin,
            tree_size=size,
            root_hash=root,
            other_root_hash=other_root,
        )

    # ------------------------------------------------------------ status

    def figures(self) -> dict[str, Any]:
        return self._tables.summary() | {"counts": asdict(self.counts)}
