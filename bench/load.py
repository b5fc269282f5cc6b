"""The exchange scenarios ``bench.run`` adds to ``exchange_bench``'s: enquiries offered at a
fixed rate, the daemons' memory and file descriptors over a soak, and raw throughput with many
office inboxes on one broker.

Offered load is paced against a schedule (enquiry i is due at ``i / rate`` seconds) by one
submitter in this process, calling ``broker.daemon.submit`` as ``liaison submit`` would. When
``submit`` is slower than the schedule, the enquiries not yet submitted when the window closes
are counted, never silently dropped: the run reports what it offered, what it submitted, the
achieved rate and the backlog, so an offered rate beyond what the system sustains shows as such.
Every wait is capped.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import _raw
from bench._site import HK, Site
from bench.exchange_bench import Exchange
from broker.topology import ENVELOPE_EXCHANGE, inbox_queue, routing_key

RATES = (200.0, 500.0, 1000.0, 2000.0)
# Broker file descriptors an office's two quorum queues hold, until a step measures it (it
# was 5.6 to 6 on RabbitMQ 3.10); and the share of the broker's limit declaring stops short of.
FDS_PER_OFFICE_GUESS = 8.0
FD_SHARE = 0.8
# Offered rates reached to within this share count as sustained.
SUSTAINED_SHARE = 0.95


@dataclass(frozen=True)
class Offered:
    """One fixed-rate window: every enquiry's submit time and the time it was due."""

    rate: float
    window_s: float
    submitted: dict[bytes, datetime]  # message id -> when its submit began
    due: dict[bytes, datetime]  # message id -> when the schedule wanted it submitted
    elapsed_s: float
    window_end: datetime
    drained: bool
    drain_s: float

    @property
    def offered(self) -> int:
        return int(self.rate * self.window_s)

    @property
    def achieved_per_s(self) -> float:
        return len(self.submitted) / self.elapsed_s if self.elapsed_s else 0.0


def counts(exchange: Exchange) -> tuple[int, int]:
    """(VN's enquiries handed over, HK's enquiries delivered), from the status files (written
    every 2 s)."""
    vn, hk = exchange.daemons
    vn_status, hk_status = vn.status() or {}, hk.status() or {}
    return (
        int(vn_status.get("inbox", {}).get("handed_over", 0)),
        int(hk_status.get("outbox", {}).get("delivered", 0)),
    )


def wait_counts(exchange: Exchange, handed: int, delivered: int, timeout: float) -> bool:
    """Until VN has handed over ``handed`` enquiries and HK holds ``delivered`` receipts; False
    when ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now_handed, now_delivered = counts(exchange)
        if now_handed >= handed and now_delivered >= delivered:
            return True
        for daemon in exchange.daemons:
            if daemon.process is not None and daemon.process.poll() is not None:
                raise RuntimeError(f"the {daemon.office.office_id} daemon exited")
        time.sleep(0.2)
    return False


def offer(exchange: Exchange, rate: float, window_s: float, drain_cap_s: float) -> Offered:
    """Offer ``rate`` enquiries/s for ``window_s`` seconds, then wait (at most ``drain_cap_s``)
    for every submitted one to be handed over and its receipt delivered."""
    before_handed, before_delivered = counts(exchange)
    submitted: dict[bytes, datetime] = {}
    due: dict[bytes, datetime] = {}
    started_wall, started = datetime.now(UTC), time.perf_counter()
    end = started + window_s
    i = 0
    while started + i / rate < end:
        now = time.perf_counter()
        if now >= end:
            break  # behind schedule: what is not submitted by now is the submitter's backlog
        pause = started + i / rate - now
        if pause > 0:
            time.sleep(pause)
        message_id, at = exchange.submit()
        submitted[message_id] = at
        due[message_id] = started_wall + timedelta(seconds=i / rate)
        i += 1
    elapsed = time.perf_counter() - started
    window_end = started_wall + timedelta(seconds=elapsed)
    draining = time.perf_counter()
    drained = wait_counts(
        exchange,
        before_handed + len(submitted),
        before_delivered + len(submitted),
        drain_cap_s,
    )
    return Offered(
        rate,
        window_s,
        submitted,
        due,
        elapsed,
        window_end,
        drained,
        time.perf_counter() - draining,
    )


def percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": ordered[-1],
        "count": float(len(ordered)),
    }


def _ms(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() * 1000


def latency_row(
    run: Offered, handed: dict[bytes, datetime], receipted: dict[bytes, datetime]
) -> dict[str, Any]:
    """The figures of one fixed-rate window, from the offices' exchange logs."""
    ids = list(run.submitted)
    done = [m for m in ids if m in handed]
    backlog = sum(1 for m in ids if m not in handed or handed[m] > run.window_end)
    handed_span = (
        (max(handed[m] for m in done) - min(run.submitted.values())).total_seconds()
        if done
        else 0.0
    )
    return {
        "offered_per_s": run.rate,
        "window_s": run.window_s,
        "offered": run.offered,
        "submitted": len(ids),
        "not_submitted": max(0, run.offered - len(ids)),
        "achieved_per_s": run.achieved_per_s,
        "sustained": run.achieved_per_s >= SUSTAINED_SHARE * run.rate,
        "backlog_at_window_end": backlog,
        "drained": run.drained,
        "drain_s": run.drain_s,
        "not_handed_over": len(ids) - len(done),
        "handed_over_per_s": len(done) / handed_span if handed_span else 0.0,
        "handed_over_ms": percentiles([_ms(handed[m], run.submitted[m]) for m in done]),
        "receipt_ms": percentiles(
            [_ms(receipted[m], run.submitted[m]) for m in ids if m in receipted]
        ),
        # From when the schedule wanted the enquiry submitted: includes the submitter's lag.
        "handed_over_from_due_ms": percentiles([_ms(handed[m], run.due[m]) for m in done]),
    }


def soak(exchange: Exchange, seconds: float, interval: float, rate: float) -> dict[str, Any]:
    """Offer ``rate`` enquiries/s for ``seconds``; every ``interval`` seconds sample both
    daemons' RSS (VmRSS) and open file descriptors, and the handed-over count."""
    vn, hk = exchange.daemons
    samples: list[dict[str, float]] = []
    started = time.perf_counter()
    next_sample, submitted, i = started, 0, 0
    while True:
        now = time.perf_counter()
        if now >= next_sample:
            handed, _ = counts(exchange)
            samples.append(
                {
                    "t_s": round(now - started, 1),
                    "vn_rss_kib": vn.rss_kib(),
                    "vn_fds": vn.open_fds(),
                    "hk_rss_kib": hk.rss_kib(),
                    "hk_fds": hk.open_fds(),
                    "submitted": submitted,
                    "handed_over_total": handed,
                }
            )
            next_sample += interval
        if now - started >= seconds:
            break
        due = started + i / rate
        if due > now:
            time.sleep(min(due, next_sample, started + seconds) - now)
            continue
        exchange.submit()
        submitted += 1
        i += 1
    elapsed = time.perf_counter() - started
    return {
        "duration_s": round(elapsed, 1),
        "interval_s": interval,
        "rate_per_s": rate,
        "submitted": submitted,
        "achieved_per_s": submitted / elapsed,
        "samples": samples,
        "daemons": {name: memory_summary(samples, name) for name in ("vn", "hk")},
    }


def memory_summary(samples: list[dict[str, float]], daemon: str) -> dict[str, float]:
    """RSS first/last/min/max (MB, 10^6 bytes), its spread (max/min - 1) and drift (last/first
    - 1), and file descriptors first/last/max, of one daemon over the soak's samples."""
    rss = [s[f"{daemon}_rss_kib"] * 1024 / 1e6 for s in samples]
    fds = [s[f"{daemon}_fds"] for s in samples]
    return {
        "rss_first_mb": rss[0],
        "rss_last_mb": rss[-1],
        "rss_min_mb": min(rss),
        "rss_max_mb": max(rss),
        "rss_spread": max(rss) / min(rss) - 1,
        "rss_drift": rss[-1] / rss[0] - 1,
        "fds_first": fds[0],
        "fds_last": fds[-1],
        "fds_max": max(fds),
    }


def grow_inboxes(
    site: Site, offices: list[str], count: int, fds_per_office: float | None
) -> dict[str, Any]:
    """Declare idle offices' inboxes until ``offices`` (extended in place) holds ``count``,
    unless the broker's file descriptors would run short: each quorum queue holds some, and a
    broker out of them stops accepting connections, for every user of this shared broker. So
    the step is skipped, and says why, when it would take the broker past ``FD_SHARE`` of its
    limit at ``fds_per_office`` (measured by the previous step; a guess before that)."""
    adding = idle_offices(count - 2)[len(offices) - 2 :]
    used, limit = site.broker_fds()
    cost = fds_per_office or FDS_PER_OFFICE_GUESS
    row: dict[str, Any] = {"inboxes": count, "broker_fds_before": used, "broker_fds_limit": limit}
    if used + cost * len(adding) > FD_SHARE * limit:
        fit = len(offices) + int((FD_SHARE * limit - used) / cost)
        row["skipped"] = (
            f"not declared: {len(adding)} more offices at about {cost:.1f} broker file"
            f" descriptors each would take the broker from {used:,} to about"
            f" {used + cost * len(adding):,.0f} of its limit of {limit:,}, and a broker out of"
            " them stops accepting connections. At its present use about"
            f" {fit:,} offices in all stay under {FD_SHARE:.0%} of the limit; raise the"
            " broker's open-files limit (RabbitMQ advises at least 65,536) to run this step"
        )
        return row
    started = time.perf_counter()
    site.add_inboxes(adding)
    row["declare_s"] = time.perf_counter() - started
    offices += adding
    after, _ = site.broker_fds()
    row |= {"broker_fds_after": after, "fds_per_office": (after - used) / len(adding)}
    return row


def idle_offices(count: int) -> list[str]:
    """Office ids for inboxes nobody runs a daemon for (``XB-BENCH-0001`` and on)."""
    return [f"XB-BENCH-{i:04d}" for i in range(1, count + 1)]


def raw_over_inboxes(site: Site, offices: list[str], count: int) -> _raw.RawRun:
    """Raw pipelined 2 KiB persistent publishes through the envelope exchange, the routing key
    of HK to each office in turn (as Liaison routes), consumed from all their inboxes."""
    keys = [routing_key(HK, office) for office in offices]
    queues = [inbox_queue(office) for office in offices]
    body = os.urandom(2048)
    return _raw.spread(site.guest(), queues, (ENVELOPE_EXCHANGE, keys), count=count, body=body)
