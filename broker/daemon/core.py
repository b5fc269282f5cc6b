"""What the daemon's core thread works with once it has opened the office: the store, the
exchange log, the inbox and outbox sides, the checkpointer. Every method runs on that thread
(the SQLite connections live there); the runner decides when each is called.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

from adapters.transports.http_in import PartnerApi
from adapters.transports.spool import PickupFolder, SpoolTransport
from broker.amqp import AmqpLink, Delivery, Published
from broker.daemon.decisions import Arrival
from broker.daemon.handover import handover_from_config
from broker.daemon.inbound import Inbound, Settle
from broker.daemon.key_events import KeysLogged, key_events
from broker.daemon.monitoring import Monitoring
from broker.daemon.office import Office, load_directory, read_secret
from broker.daemon.outbound import Publisher, RetryPolicy
from broker.daemon.pickup import PickupWatcher
from broker.daemon.upkeep import Checkpointer, FileWatch, directory_loaded
from broker.daemon.witnessing import Witness
from broker.durable import FileBatch, sweep_leftovers
from broker.errors import LiaisonError
from broker.exchange_log import EventType, ExchangeLog, LogEntry, log_signer
from broker.log import get_logger
from broker.office_store import OfficeStore
from broker.topology import amqp_user

_KEYS_LOGGED: Final = "keys_logged"  # the office store's note of the key events written
# A temporary file older than this at start is a crash's leftover, not a writer's at work
# (liaison submit writes envelopes beside the daemon).
LEFTOVER_AGE_S: Final = 600.0


def _log() -> Any:
    # Looked up at each use: a logger bound at import time would keep structlog's defaults
    # (stdout, no redaction) if configure_logging runs later, as it does in the CLI.
    return get_logger("daemon")


class Core:
    """The opened office (see the module docstring). ``office()`` is the current one: the
    directory may be reloaded while the daemon runs."""

    def __init__(
        self,
        office: Office,
        link: AmqpLink,
        *,
        network: str,
        clock: Callable[[], datetime],
        rng: Callable[[int], bytes] = os.urandom,
        max_in_flight: int,
        retry: RetryPolicy,
        checkpoint_entries: int,
        checkpoint_interval: float,
        checkpoint_share_interval: float = 600.0,
    ) -> None:
        self._office = office
        self._link = link
        self._clock = clock
        paths = office.paths
        self.store = OfficeStore.open(paths.store, office_id=office.office_id)
        try:
            self.log = ExchangeLog.open(paths.log, office_id=office.office_id, network=network)
        except BaseException:
            self.store.close()
            raise
        try:  # the parts on top of the store and the log; both closed if one fails
            self.checkpointer = Checkpointer(
                self.log,
                lambda: log_signer(self._office.keys, network=network),
                every=checkpoint_entries,
                interval=checkpoint_interval,
                clock=clock,
            )
            # The batch's files share their fsyncs (runner._process: before the commit).
            self.files = FileBatch()
            handover = handover_from_config(
                office.config, read_secret=read_secret, rng=rng, files=self.files
            )
            envelopes = paths.envelope_store(self.files)
            self._handover, self._envelopes = handover, envelopes
            self.inbound = Inbound(self.office, self.store, envelopes, handover, rng=rng)
            self.witness = Witness(
                self.office,
                self.store,
                self.log,
                envelopes,
                network=network,
                interval=checkpoint_share_interval,
                rng=rng,
            )
            self.inbound.witness = self.witness.receive
            self.pickup: PickupWatcher | None = None
            pickup_dir = office.config.handover.pickup_dir
            if pickup_dir is not None:
                folder = PickupFolder(pickup_dir, max_bytes=handover.codec.max_input_bytes)
                folder.prepare()
                self.pickup = PickupWatcher(
                    self.office, self.store, handover.codec, folder, rng=rng
                )
            self.partner_api: PartnerApi | None = None
            if office.config.partner_api.listen and pickup_dir is not None:
                # The office's system may POST its files instead of writing them into the folder.
                self.partner_api = PartnerApi.from_config(
                    office.config.partner_api,
                    pickup_dir=pickup_dir,
                    suffixes=handover.codec.suffixes,
                    max_bytes=handover.codec.max_input_bytes,
                    read_secret=read_secret,
                )
            self.publisher = Publisher(
                self.store,
                link,
                office_id=office.office_id,
                user=amqp_user(office.office_id, user_prefix=office.user_prefix),
                max_in_flight=max_in_flight,
                retry=retry,
            )
            self._directory_watch = FileWatch(office.config.directory.file)
            self.monitoring = Monitoring(
                self.store, self.log, link, office_id=office.office_id, clock=clock
            )
        except BaseException:
            self.store.close()
            self.log.close()
            raise

    def office(self) -> Office:
        return self._office

    def started(self) -> None:
        """Log the start, finish what a crash left unfinished, chase, flush."""
        if self.partner_api is not None:
            self.partner_api.start()
        now = self._clock()
        self.store.record(
            [
                LogEntry(EventType.DAEMON_STARTED, now, actor=self._office.office_id),
                directory_loaded(self._office.directory, now),
            ]
        )
        self._log_keys(now)
        self._sweep(now)
        self.chase()
        self.flush()

    def _sweep(self, now: datetime) -> None:
        """Remove the temporary files a crash left in a batch (broker/durable.py)."""
        folders = [self._envelopes.root, *self._envelopes.subfolders()]
        if isinstance(self._handover.transport, SpoolTransport):
            folders.append(self._handover.transport.folder)
        removed = sweep_leftovers(folders, older_than=LEFTOVER_AGE_S, now=now.timestamp())
        if removed:
            _log().warning("leftovers_removed", count=removed)

    def stopped(self) -> None:
        now = self._clock()
        self.store.record([LogEntry(EventType.DAEMON_STOPPED, now, actor=self._office.office_id)])
        self.flush()

    # ------------------------------------------------------------ the work

    def deliver(self, delivery: Delivery) -> Settle:
        """Handle one delivery and say how to settle it; the caller settles it (``settle_delivery``)
        once what it recorded is durable. An unexpected failure propagates after a reject with
        requeue: the queue's delivery limit dead-letters a message that keeps failing."""
        arrival = Arrival(
            delivery.body, delivery.routing_key, delivery.user_id, delivery.redelivered
        )
        try:
            return self.inbound.handle(arrival, now=self._clock())
        except BaseException:
            self._link.reject(delivery, requeue=True)
            raise

    def settle_delivery(self, delivery: Delivery, settle: Settle | None) -> None:
        """Ack, dead-letter, or (``None``: what was recorded is not durable) requeue."""
        if settle is Settle.ACK:
            self._link.ack(delivery)
        elif settle is Settle.DEAD_LETTER:
            self._link.reject(delivery, requeue=False)
        else:
            self._link.reject(delivery, requeue=True)

    def settle(self, published: Published) -> None:
        self.publisher.settle(published, self._clock())

    def publish_due(self) -> None:
        self.publisher.publish_due(self._clock())

    def publish_if_queued(self) -> None:
        """Publish at once what another process just queued (``liaison submit``)."""
        if self.store.changed_elsewhere():
            self.publish_due()

    def flush(self) -> None:
        self.store.flush_journal(self.log)

    def chase(self) -> None:
        """Hand over what is unfinished; mark overdue and expired; forget old rejected ids."""
        now = self._clock()
        finished = self.inbound.resume(now=now)
        if finished:
            _log().info("resumed_hand_overs", count=finished)
        skew = self._office.limits.max_clock_skew
        for row in self.store.mark_overdue(now):
            _log().warning("enquiry_overdue", message_id=row.message_id, recipient=row.recipient)
        expired = self.store.mark_expired(now, skew=skew)
        if expired:
            _log().warning("deliveries_expired", count=expired)
        self.store.purge_rejected(now - skew)

    def take_pickups(self) -> None:
        """Send what the office's system dropped into its pickup folder."""
        if self.pickup is not None and self.pickup.poll(now=self._clock()):
            self.publish_due()

    def checkpoint(self, *, force: bool = False) -> None:
        size = self.checkpointer.maybe(force=force)
        if size is not None:
            _log().info("log_checkpoint", size=size)
        if not force and self.witness.share(self._clock()):  # at stop the link is gone
            self.publish_due()

    def check_directory(self) -> None:
        """Run on a new edition of the directory file once it is accepted."""
        if not self._directory_watch.changed():
            return
        now = self._clock()
        loaded = load_directory(self._office.config, now=now)
        if loaded.refusal is not None:
            _log().error("directory_refused", exc_info=loaded.refusal)
            return
        if loaded.directory.digest != self._office.directory.digest:
            self._office = self._office.with_directory(loaded)
            self.store.record([directory_loaded(loaded.directory, now)])
            _log().info("directory_loaded", directory_version=loaded.directory.version)
            self._log_keys(now)

    def _log_keys(self, now: datetime) -> None:
        """key-generated / key-rotated for the keys this daemon holds, key-revoked for the
        directory's revocations of the office's keys; each once (broker/daemon/key_events.py)."""
        logged = KeysLogged.from_json(self.store.noted(_KEYS_LOGGED))
        office = self._office
        entries, now_logged = key_events(office.keys.public(), office.directory, logged, now)
        if entries:
            self.store.record_noting(entries, _KEYS_LOGGED, now_logged.to_json())
            for entry in entries:  # key ids are public; the reason is a role or a revocation's
                _log().info(entry.event.name.lower(), key_id=entry.key_id, reason=entry.reason)

    # ------------------------------------------------------------ reporting, closing

    def figures(self) -> dict[str, Any]:
        """Counts and backlogs for the status file."""
        return {
            "counts": asdict(self.inbound.counts)
            | asdict(self.publisher.counts)
            | (asdict(self.pickup.counts) if self.pickup is not None else {}),
            "in_flight": self.publisher.in_flight,
            "outbox": self.store.delivery_counts(),
            "inbox": self.store.inbox_counts(),
            "log_pending": self.store.pending_log_entries(),
            "witness": self.witness.figures(),
            **self.monitoring.figures(),
        }

    def close(self) -> None:
        try:
            if self.partner_api is not None:
                self.partner_api.stop()
        finally:
            self._close_files()

    def _close_files(self) -> None:
        self.files.close()
        for closing in (self.store, self.log):
            try:
                closing.close()
            except LiaisonError as exc:
                _log().error("close_failed", exc_info=exc)
