"""The daemon's Prometheus metrics, read from its status document (docs/operations.md,
"Monitoring").

A custom collector on a registry of its own (never prometheus_client's global one): each
scrape reads the status document the daemon last computed (``OfficeDaemon.status``, refreshed
every health interval on the core thread), so a scrape never touches the store, the log or
the AMQP link, and costs the daemon nothing. Ages are computed at the scrape from the times
the document holds. Labels carry office ids, states, directions, event names and reason codes
only: never case content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from broker.office_store import DeliveryState, InboxState

DAEMON_STATES: Final = ("idle", "starting", "running", "stopping", "stopped", "failed")
StatusSource = Callable[[], Mapping[str, Any]]
Clock = Callable[[], datetime]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _table(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _counts(value: object) -> dict[str, float]:
    """A {label: number} table of the document, without what is not a number."""
    found = {}
    for key, raw in _table(value).items():
        number = _number(raw)
        if number is not None:
            found[str(key)] = number
    return found


class DaemonCollector(Collector):
    """Metrics of one office's daemon from its status document (see the module docstring)."""

    def __init__(self, office_id: str, status: StatusSource, clock: Clock) -> None:
        self._office = office_id
        self._status = status
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        doc = self._status()
        now = self._clock()
        office = self._office
        yield from self._daemon(doc, now)
        yield from self._messages(doc)
        yield from self._backlogs(doc, now)
        yield from self._log(doc, now)
        link = _table(doc.get("link"))
        yield _gauge(
            "liaison_link_connected",
            "1 while the AMQP link is connected (a channel open, consuming the inbox).",
            office,
            1.0 if link.get("state") == "connected" else 0.0,
        )
        for name, key, text in (
            ("liaison_link_unconfirmed_publishes", "unconfirmed_publishes",
             "Publishes handed to the link and not yet confirmed by the broker."),
            ("liaison_link_unacked_deliveries", "unacked_deliveries",
             "Deliveries the daemon holds and has not yet acknowledged."),
        ):  # fmt: skip
            value = _number(link.get(key))
            if value is not None:
                yield _gauge(name, text, office, value)
        reconnects = _number(link.get("reconnect_count"))
        if reconnects is not None:
            yield _counter(
                "liaison_link_reconnects",
                "Connection attempts after the first since the daemon started.",
                office,
                reconnects,
            )

    # ------------------------------------------------------------ families

    def _daemon(self, doc: Mapping[str, Any], now: datetime) -> Iterator[Metric]:
        office = self._office
        state = str(doc.get("state") or "idle")
        family = GaugeMetricFamily(
            "liaison_daemon_state",
            "1 for the daemon's current state, 0 for the others.",
            labels=["office", "state"],
        )
        for each in (*DAEMON_STATES, *(() if state in DAEMON_STATES else (state,))):
            family.add_metric([office, each], 1.0 if each == state else 0.0)
        yield family
        updated = _moment(doc.get("updated_at"))
        if updated is not None:
            yield _gauge(
                "liaison_status_age_seconds",
                "Seconds since the daemon last refreshed its status (these figures).",
                office,
                max(0.0, (now - updated).total_seconds()),
            )
        errors = _number(doc.get("errors"))
        if errors is not None:
            yield _counter(
                "liaison_daemon_errors",
                "Steps of the daemon that failed since it started (see last_error).",
                office,
                errors,
            )
        fork_alarms = _number(_table(doc.get("witness")).get("fork_alarms", 0))
        yield _counter(
            "liaison_fork_alarms",
            "Forks seen: two signed checkpoints of one log that cannot both be true.",
            office,
            fork_alarms or 0.0,
        )

    def _messages(self, doc: Mapping[str, Any]) -> Iterator[Metric]:
        office = self._office
        if "outbox" in doc or "inbox" in doc:
            messages = GaugeMetricFamily(
                "liaison_messages",
                "Messages in the office store by direction and state (outgoing: one per"
                " recipient).",
                labels=["office", "direction", "state"],
            )
            for direction, key, known in (
                ("out", "outbox", [s.value for s in DeliveryState]),
                ("in", "inbox", [s.value for s in InboxState]),
            ):
                counts = _counts(doc.get(key))
                for state in sorted(set(known) | counts.keys()):
                    messages.add_metric([office, direction, state], counts.get(state, 0.0))
            yield messages
        processed = _counts(doc.get("counts"))
        if processed:
            events = CounterMetricFamily(
                "liaison_processed",
                "What the daemon did since it started, by event (received, rejected,"
                " published, confirmed, ...).",
                labels=["office", "event"],
            )
            for event, value in sorted(processed.items()):
                events.add_metric([office, event], value)
            yield events
        rejections = _table(doc.get("rejections"))
        if rejections:
            rejected = CounterMetricFamily(
                "liaison_rejections",
                "Rejections since the daemon started, by reason code: in = messages this"
                " office refused, out = partners' REJECTED receipts for ours.",
                labels=["office", "direction", "reason"],
            )
            for direction in ("in", "out"):
                for reason, value in sorted(_counts(rejections.get(direction)).items()):
                    rejected.add_metric([office, direction, reason], value)
            yield rejected

    def _backlogs(self, doc: Mapping[str, Any], now: datetime) -> Iterator[Metric]:
        office = self._office
        if "outbox_oldest_unconfirmed_at" in doc:
            oldest = _moment(doc.get("outbox_oldest_unconfirmed_at"))
            yield _gauge(
                "liaison_outbox_oldest_unconfirmed_age_seconds",
                "Age of the oldest delivery the broker has not yet confirmed (0 when none).",
                office,
                0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
            )
        overdue = _counts(doc.get("overdue_enquiries"))
        if overdue:
            family = GaugeMetricFamily(
                "liaison_overdue_enquiries",
                "Enquiries past their due time without an answer: out = ours (per recipient),"
                " in = received ones this office has not answered.",
                labels=["office", "direction"],
            )
            for direction in ("out", "in"):
                family.add_metric([office, direction], overdue.get(direction, 0.0))
            yield family
        dead = _number(doc.get("dead_letters"))
        if dead is not None:
            yield _gauge(
                "liaison_dead_letters",
                "Messages in this office's dead-letter queue dead.<office> (read at most"
                " every 30 s; absent while unknown).",
                office,
                dead,
            )
        in_flight = _number(doc.get("in_flight"))
        if in_flight is not None:
            yield _gauge(
                "liaison_publishes_in_flight",
                "Publishes sent and awaiting the broker's confirm.",
                office,
                in_flight,
            )
        pending = _number(doc.get("log_pending"))
        if pending is not None:
            yield _gauge(
                "liaison_log_pending_entries",
                "Log entries committed in the store's journal, not yet in the exchange log.",
                office,
                pending,
            )

    def _log(self, doc: Mapping[str, Any], now: datetime) -> Iterator[Metric]:
        office = self._office
        log = _table(doc.get("log"))
        size = _number(log.get("size"))
        if size is not None:
            yield _gauge("liaison_log_entries", "Entries in the exchange log.", office, size)
        checkpoint_size = _number(log.get("checkpoint_size"))
        checkpoint_at = _moment(log.get("checkpoint_at"))
        if checkpoint_size is not None:
            yield _gauge(
                "liaison_checkpoint_entries",
                "Entries the latest signed checkpoint covers.",
                office,
                checkpoint_size,
            )
        if checkpoint_at is not None:
            yield _gauge(
                "liaison_checkpoint_age_seconds",
                "Seconds since the latest signed checkpoint of the log.",
                office,
                max(0.0, (now - checkpoint_at).total_seconds()),
            )


def _gauge(name: str, text: str, office: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=["office"])
    family.add_metric([office], value)
    return family


def _counter(name: str, text: str, office: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text, labels=["office"])
    family.add_metric([office], value)
    return family


def daemon_registry(office_id: str, status: StatusSource, clock: Clock) -> CollectorRegistry:
    """A registry holding only the daemon's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DaemonCollector(office_id, status, clock))
    return registry


__all__ = ["DAEMON_STATES", "DaemonCollector", "daemon_registry"]
