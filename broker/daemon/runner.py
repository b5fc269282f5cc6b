"""The office daemon: one AMQP link, one core thread, the office's store, log and spool.

Threads: the link's I/O thread only queues what the broker says (deliveries, publish outcomes)
and returns; the *core thread* does all the work, one batch at a time: it opens the office
store and the exchange log (SQLite connections stay on their thread), examines and records
each delivery, settles it, publishes the outbox, records outcomes, flushes the journal into
the log, chases overdue enquiries, checkpoints the log and writes the health file. One worker
keeps every state change in one order; the broker's prefetch bounds what waits.

``start()`` takes the data folder's lock, opens everything, finishes what a crash left
unfinished, then connects. ``stop()`` (or ``request_stop()``, which only sets a flag) lets the
core thread finish the deliveries it holds, stops the link (which cancels the consumer and
waits for in-flight confirms), records the last outcomes, logs DAEMON_STOPPED, checkpoints and
closes: what was not acked is redelivered, what was not confirmed is published again
(docs/daemon.md).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from broker.amqp import AmqpLink, AmqpSettings, Delivery, Published
from broker.daemon.core import Core
from broker.daemon.health import write_status
from broker.daemon.inbound import Settle
from broker.daemon.office import Office
from broker.daemon.outbound import RetryPolicy
from broker.daemon.upkeep import FolderLock, link_summary
from broker.errors import LiaisonError
from broker.exchange_log import DEFAULT_NETWORK
from broker.log import get_logger
from broker.topology import inbox_queue


def _log() -> Any:
    # Looked up at each use: a logger bound at import time would keep structlog's defaults
    # (stdout, no redaction) if configure_logging runs later, as it does in the CLI.
    return get_logger("daemon")


Clock = Callable[[], datetime]
Work = Delivery | Published


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """Timings of the core loop (seconds unless said otherwise)."""

    # How long the core thread waits for work before it looks at its timers and whether another
    # process (liaison submit) queued something; that look is one cheap PRAGMA, and the tick
    # bounds how long a submitted enquiry waits before it is published.
    tick: float = 0.01
    # How often the outbox is read in any case (retries that fell due).
    outbox_poll: float = 1.0
    # How often unfinished hand-overs are retried, overdue and expired deliveries marked, and
    # old rejected ids forgotten.
    chase_interval: float = 60.0
    # How often the health file is rewritten.
    health_interval: float = 2.0
    # Sign a checkpoint of the log after this many new entries, or this often if it grew.
    checkpoint_entries: int = 1000
    checkpoint_interval: float = 600.0
    # Send the latest checkpoint to the partners at most this often (when there is a new one).
    checkpoint_share_interval: float = 600.0
    # How often the directory file is checked for a new edition.
    directory_check: float = 60.0
    # stop(): time to finish held deliveries, then the link's own stop timeout.
    drain_timeout: float = 5.0
    link_stop_timeout: float = 10.0
    # Publishes in flight at once, and the backoff after a nack.
    max_in_flight: int = 1000
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class OfficeDaemon:
    """One office's daemon (see the module docstring). Construct, ``start()``, ``stop()``."""

    def __init__(
        self,
        office: Office,
        amqp: AmqpSettings,
        *,
        settings: DaemonSettings = DaemonSettings(),
        clock: Clock = utc_now,
        rng: Callable[[int], bytes] = os.urandom,
        network: str = DEFAULT_NETWORK,
    ) -> None:
        self._office = office
        self._amqp = amqp
        self._settings = settings
        self._clock = clock
        self._rng = rng
        self._network = network
        self._work: queue.Queue[Work] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = FolderLock(office.paths.lock)
        self._link: AmqpLink | None = None
        self._core: Core | None = None  # opened on the core thread
        self.error: BaseException | None = None  # what ended the daemon, if not a stop
        self.state = "idle"
        self.status: dict[str, Any] = {}  # the last health document written
        self._link_state = "idle"
        self._last_error: dict[str, Any] | None = None
        self._errors = 0
        self._started_at = ""

    # ------------------------------------------------------------ control (any thread)

    def start(self) -> None:
        """Take the data folder's lock (ConfigError if another daemon holds it) and start."""
        if self._thread is not None:
            return
        self._lock.take()
        self.state = "starting"
        self._thread = threading.Thread(
            target=self._run, name=f"liaison-daemon:{self._office.office_id}", daemon=True
        )
        self._thread.start()

    def wait_started(self, timeout: float) -> bool:
        """Wait until the daemon has opened everything (connected or not); False if it
        failed or ``timeout`` passed first."""
        return self._ready.wait(timeout) and self.state == "running"

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the daemon has opened everything and its link is connected."""
        if not self._ready.wait(timeout):
            return False
        link = self._link
        return self.state == "running" and link is not None and link.wait_connected(timeout)

    def request_stop(self) -> None:
        """Ask for a clean stop; returns at once."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop cleanly and wait for it (see the module docstring)."""
        self._stop.set()
        limit = timeout or (self._settings.drain_timeout + self._settings.link_stop_timeout + 10)
        self.join(limit)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the core thread to end; True if it has."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ the core thread

    def _run(self) -> None:
        try:
            self._open()
        except BaseException as exc:  # noqa: BLE001 - reported through .error and the status
            self.error = exc
            self._failed("start", exc)
            if self._link is not None:
                self._link.stop(self._settings.link_stop_timeout)
            self._close()
            return
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - a bug; stop cleanly all the same
            self.error = exc
            self._failed("loop", exc)
        finally:
            self._shutdown()
            self._close()

    def _open(self) -> None:
        settings, office = self._settings, self._office
        self._link = AmqpLink(
            self._amqp,
            inbox=inbox_queue(office.office_id),
            on_delivery=self._work.put,
            on_published=self._work.put,
            on_state=self._on_link_state,
        )
        self._core = Core(
            office,
            self._link,
            network=self._network,
            clock=self._clock,
            rng=self._rng,
            max_in_flight=settings.max_in_flight,
            retry=settings.retry,
            checkpoint_entries=settings.checkpoint_entries,
            checkpoint_interval=settings.checkpoint_interval,
            checkpoint_share_interval=settings.checkpoint_share_interval,
        )
        self._started_at = self._clock().isoformat()
        self._core.started()
        self._link.start()
        self.state = "running"
        self._write_health()
        self._ready.set()
        _log().info(
            "daemon_started",
            office=office.office_id,
            directory_version=office.directory.version,
            queue=inbox_queue(office.office_id),
        )

    def _loop(self) -> None:
        core, settings, clock = self._the_core(), self._settings, time.monotonic
        next_poll = next_health = next_directory = next_pickup = clock()
        pickup_every = self._office.config.handover.pickup_interval
        next_chase = clock() + settings.chase_interval
        while not self._stop.is_set():
            batch = self._take(settings.tick)
            if batch:  # an empty one would still take the store's write lock every tick
                self._process(batch)
            moment = clock()
            if batch or moment >= next_poll:
                self._guard("publish", core.publish_due)
                next_poll = moment + settings.outbox_poll
            else:
                self._guard("publish", core.publish_if_queued)
            if moment >= next_pickup:
                self._guard("pickup", core.take_pickups)
                next_pickup = moment + pickup_every
            if moment >= next_chase:
                self._guard("chase", core.chase)
                next_chase = moment + settings.chase_interval
            if moment >= next_directory:
                self._guard("directory", core.check_directory)
                next_directory = moment + settings.directory_check
            self._guard("journal", core.flush)
            self._guard("checkpoint", core.checkpoint)
            if moment >= next_health:
                self._guard("health", self._write_health)
                next_health = moment + settings.health_interval

    def _take(self, timeout: float) -> list[Work]:
        try:
            batch = [self._work.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(batch) < 256:
            try:
                batch.append(self._work.get_nowait())
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[Work]) -> None:
        """Handle a batch in one durable commit (group commit: one fsync of the store, and one
        syncfs for the files it wrote, for the whole batch instead of several per message),
        then settle the deliveries with the broker: nothing is acked before what it caused is
        on disk."""
        core = self._the_core()
        settled: list[tuple[Delivery, Settle | None]] = []
        done = 0  # items of the batch handled inside the transaction

        def handle(delivery: Delivery) -> None:
            settled.append((delivery, core.deliver(delivery)))

        def handle_all() -> None:
            nonlocal done
            # The files' shared sync ends before the store commits (the inner block first).
            with core.store.batch(), core.files.batch():
                for item in batch:
                    if isinstance(item, Delivery):
                        # One bad message must not stop the office: the error is noted, the
                        # delivery requeued (Core.deliver), and only the error's type and our
                        # own diagnosis are logged, never content.
                        self._guard("delivery", partial(handle, item))
                    else:
                        self._guard("outcome", partial(core.settle, item))
                    done += 1

        try:
            handle_all()
        except Exception as exc:  # noqa: BLE001 - the commit failed: nothing of it is durable
            self._note_error("batch", exc)
            _log().error("daemon_step_failed", component="batch", exc_info=exc)
            # Requeue what was handled (the broker redelivers it) and handle what was not
            # reached one by one, outside a batch, so no delivery or outcome is left hanging.
            settled = [(delivery, None) for delivery, _ in settled]
            for item in batch[done:]:
                if isinstance(item, Delivery):
                    settled.append((item, None))
                else:
                    self._guard("outcome", partial(core.settle, item))
        for delivery, settle in settled:
            self._guard("settle", partial(core.settle_delivery, delivery, settle))

    def _the_core(self) -> Core:
        assert self._core is not None  # noqa: S101 - set by _open before any use
        return self._core

    def _guard(self, where: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - keep serving; the status shows the error
            self._note_error(where, exc)
            _log().error("daemon_step_failed", component=where, exc_info=exc)

    def _note_error(self, where: str, exc: BaseException) -> None:
        self._errors += 1
        self._last_error = {
            "at": self._clock().isoformat(),
            "where": where,
            "error_type": type(exc).__name__,
            # Our own diagnoses hold no case content (broker/errors.py); others' may.
            "error": exc.diagnosis if isinstance(exc, LiaisonError) else "",
        }

    def _failed(self, where: str, exc: BaseException) -> None:
        self._note_error(where, exc)
        self.state = "failed"
        _log().error("daemon_failed", office=self._office.office_id, state=where, exc_info=exc)

    def _on_link_state(self, state: str) -> None:
        self._link_state = str(state)  # on the link's I/O thread: just note it

    def _write_health(self) -> None:
        core, link = self._core, self._link
        self.status = {
            "office": self._office.office_id,
            "pid": os.getpid(),
            "state": self.state,
            "started_at": self._started_at,
            "updated_at": self._clock().isoformat(),
            "interval_s": self._settings.health_interval,
            "directory_version": (core.office() if core else self._office).directory.version,
            "link": link_summary(link.health() if link else None, self._link_state),
            "errors": self._errors,
            "last_error": self._last_error,
            **(core.figures() if core is not None else {}),
        }
        write_status(self._office.paths.status, self.status)

    # ------------------------------------------------------------ stopping

    def _shutdown(self) -> None:
        self.state = "stopping"
        self._guard("health", self._write_health)
        deadline = time.monotonic() + self._settings.drain_timeout
        while time.monotonic() < deadline:  # deliveries we hold: finish and ack them
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                break
            self._process([item])
        if self._link is not None:
            self._link.stop(self._settings.link_stop_timeout)
        while True:  # outcomes reported while the link drained its confirms
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Published):  # a delivery now is one the broker requeued
                self._process([item])
        core = self._core
        if core is not None:
            self._guard("stop", core.stopped)
            self._guard("checkpoint", partial(core.checkpoint, force=True))
        if self.error is None:
            self.state = "stopped"
        self._guard("health", self._write_health)
        _log().info("daemon_stopped", office=self._office.office_id, state=self.state)

    def _close(self) -> None:
        if self._core is not None:
            self._core.close()
        self._lock.release()
        self._ready.set()  # nobody waits for a daemon that will never be ready


__all__ = ["Clock", "DaemonSettings", "OfficeDaemon", "utc_now"]
