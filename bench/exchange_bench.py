"""Liaison's secure exchange end to end beside raw pika over the same RabbitMQ, in the same run.

    .venv/bin/python -m bench.exchange_bench            # full: N = 20,000 (about 9 minutes)
    .venv/bin/python -m bench.exchange_bench --quick    # N = 2,000, under two minutes
    .venv/bin/python -m bench.exchange_bench --json     # the figures as one JSON document
    .venv/bin/python -m bench.exchange_bench -n 50000   # another N

One run makes a fresh vhost and broker users from the generated definitions (removed at the
end), then measures, on the same broker:

1. raw pika, pipelined: 2 KiB persistent messages into a quorum queue, 1,000 publishes in
   flight with asynchronous confirms, consumed in another process (prefetch 200, acks
   ``multiple=True`` every 100); first publish to last consumed. The ceiling.
2. raw pika, naive: BlockingConnection, ``confirm_delivery``, one confirm per publish.
3. Liaison: HK submits N enquiries of 2 KiB (the protobuf payload) to VN, one recipient,
   with ``broker.daemon.submit`` (sealed, durable in the outbox, logged) in this process; the
   two offices' ``liaison daemon`` run as child processes with their default settings (so the
   machine's cores are shared as in production: one process per office). Timed from the first
   submit to the last hand-over at VN (its spool file) and to the last DELIVERED receipt at
   HK, both read from the offices' exchange logs (times to the millisecond).
4. Latency: submit-to-handed-over, p50 and p99, at a fixed offered rate of 500 enquiries/s
   (paced against the schedule; when ``submit`` cannot keep up, the achieved rate is shown),
   then at 50/s, a rate this machine sustains.
5. VN's daemon RSS (VmRSS) after the N enquiries.
6. The daemons alone: HK's daemon stopped, N more enquiries queued, HK's daemon started;
   timed from HK's first PUBLISHED entry to the last hand-over and the last receipt.

Ratios are what we quote; absolute figures depend on the machine and the disk (every Liaison
commit is an fsync) and are printed for context only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import _raw
from bench._site import HK, ROOT, VN, DaemonProcess, Site, demo_keys
from broker.daemon import Office
from broker.daemon.submission import Submitter
from broker.exchange_log import EventType, ExchangeLog, decode_entry
from broker.model import CaseEnquiry, new_id
from broker.office_store import OfficeStore

PAYLOAD_BYTES = 2048
LATENCY_RATE = 500.0
# A rate submit and the daemons sustain here, for latency without a growing backlog.
SUSTAINED_RATE = 50.0


@dataclass(frozen=True)
class Figures:
    machine: str
    n: int
    raw_per_s: float
    raw_confirm_s: float
    naive_per_s: float
    submit_per_s: float
    handed_over_per_s: float
    delivered_per_s: float
    prefilled_handed_over_per_s: float
    prefilled_delivered_per_s: float
    latency_rate: float
    latency_offered: int
    latency_achieved_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    sustained_rate: float
    sustained_p50_ms: float
    sustained_p99_ms: float
    vn_rss_mib: float

    @property
    def ratio_ceiling(self) -> float:
        return self.handed_over_per_s / self.raw_per_s

    @property
    def ratio_naive(self) -> float:
        return self.handed_over_per_s / self.naive_per_s


def enquiry_template() -> CaseEnquiry:
    """The missing-child alert, to VN only, its question and summary cut so that the payload
    (the protobuf message) is 2 KiB exactly."""
    text = (ROOT / "docs" / "examples" / "missing-child-alert.json").read_text("utf-8")
    base = dataclasses.replace(CaseEnquiry.from_json(text), recipient_offices=(VN,))
    summary, question = base.summary, base.question

    def size(pad: int = 0) -> int:
        made = dataclasses.replace(base, summary=summary, question=question + "." * pad)
        return len(made.to_bytes())

    while size() > PAYLOAD_BYTES:
        if len(question) > 80:
            question = question[:-1]
        else:
            summary = summary[:-1]
    pad = 0
    while size(pad) < PAYLOAD_BYTES:  # a length prefix may grow by a byte on the way
        pad += 1
    made = dataclasses.replace(base, summary=summary, question=question + "." * pad)
    assert len(made.to_bytes()) == PAYLOAD_BYTES, len(made.to_bytes())
    return made


def fresh(template: CaseEnquiry) -> CaseEnquiry:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    return dataclasses.replace(template, enquiry_id=new_id(), response_due=due)


def wait_for(daemon: DaemonProcess, section: str, state: str, count: int, timeout: float) -> None:
    """Until the daemon's health file counts ``count`` rows of ``state`` (written every 2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = daemon.status() or {}
        if status.get(section, {}).get(state, 0) >= count:
            return
        if daemon.process is not None and daemon.process.poll() is not None:
            raise RuntimeError(f"the {daemon.office.office_id} daemon exited")
        time.sleep(0.25)
    raise RuntimeError(f"{daemon.office.office_id}: not {count} {state} within {timeout:.0f} s")


def event_times(
    office: Office, event: EventType, *, related: bool = False
) -> dict[bytes, datetime]:
    """Message id (or the related one) -> time of the first ``event`` in the office's log."""
    found: dict[bytes, datetime] = {}
    with ExchangeLog.open_existing(office.paths.log) as log:
        for _, data in log.iter_entries():
            entry = decode_entry(data)
            if entry.event is event:
                found.setdefault(
                    entry.related_message_id if related else entry.message_id, entry.time
                )
    return found


class Exchange:
    """The two offices and their daemons on one site."""

    def __init__(self, site: Site, folder: Path) -> None:
        keys = demo_keys(folder / "keys")
        self.hk_config, self.hk = site.office(HK, keys)
        self.vn_config, self.vn = site.office(VN, keys)
        self.template = enquiry_template()
        self._submitter: Submitter | None = None
        self.daemons = [
            DaemonProcess(self.vn_config, self.vn),
            DaemonProcess(self.hk_config, self.hk),
        ]

    def start(self) -> None:
        for daemon in self.daemons:
            daemon.start()

    def stop(self) -> None:
        self.close()
        for daemon in reversed(self.daemons):
            daemon.stop()

    def submit(self) -> tuple[bytes, datetime]:
        """One enquiry through a long-lived submitter (one open store, as the daemon's pickup
        folder and a bulk importer submit); ``liaison submit`` opens two databases per call
        (docs/performance.md, "Where the time goes")."""
        started = datetime.now(UTC)
        if self._submitter is None:
            self._submitter = Submitter(self.hk)
        return self._submitter.submit(fresh(self.template), now=started).message_id, started

    def close(self) -> None:
        if self._submitter is not None:
            self._submitter.close()
            self._submitter = None


def throughput(
    exchange: Exchange, n: int, timeout: float
) -> tuple[dict[bytes, datetime], float, float]:
    """Submit n enquiries back to back; wait for every hand-over and receipt. Returns the
    submit times, the submit rate and VN's RSS (MiB) afterwards."""
    sent: dict[bytes, datetime] = {}
    # What earlier phases left counts too: wait for these n on top of it.
    handed_before = stored_count(exchange.vn, "inbox", "handed_over")
    delivered_before = stored_count(exchange.hk, "outbox", "delivered")
    start = time.perf_counter()
    for _ in range(n):
        message_id, at = exchange.submit()
        sent[message_id] = at
    submit_rate = n / (time.perf_counter() - start)
    vn, hk = exchange.daemons
    wait_for(vn, "inbox", "handed_over", handed_before + n, timeout)
    wait_for(hk, "outbox", "delivered", delivered_before + n, timeout)
    return sent, submit_rate, vn.rss_kib() / 1024


def stored_count(office: Office, section: str, state: str) -> int:
    """Rows of ``state`` in the office's inbox or outbox now (what its health file reports)."""
    with OfficeStore.open(office.paths.store, office_id=office.office_id) as store:
        counts = store.inbox_counts() if section == "inbox" else store.delivery_counts()
    return int(counts.get(state, 0))


def offered(
    exchange: Exchange, rate: float, seconds: float, already: int
) -> tuple[dict[bytes, datetime], float]:
    """Submit at ``rate`` per second for ``seconds`` (paced against the schedule, not the last
    submit: a submit slower than the rate allows falls behind and is reported as the achieved
    rate); wait for every hand-over."""
    sent: dict[bytes, datetime] = {}
    count = int(rate * seconds)
    start = time.perf_counter()
    for i in range(count):
        pause = start + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        message_id, at = exchange.submit()
        sent[message_id] = at
    achieved = count / (time.perf_counter() - start)
    wait_for(exchange.daemons[0], "inbox", "handed_over", already + count, 120 + count / 20)
    return sent, achieved


def prefilled(exchange: Exchange, n: int, already: int, timeout: float) -> dict[bytes, datetime]:
    """The daemons alone: with HK's daemon stopped, queue n enquiries, then start it; wait
    for every hand-over and receipt. Returns the submit times."""
    vn, hk = exchange.daemons
    hk.stop()
    sent = dict(exchange.submit() for _ in range(n))
    hk.start()
    wait_for(vn, "inbox", "handed_over", already + n, timeout)
    wait_for(hk, "outbox", "delivered", already + n, timeout)
    return sent


def span(started: dict[bytes, datetime], done: dict[bytes, datetime]) -> float:
    """Seconds from the first start to the last done, over the messages of ``started``."""
    missing = set(started) - set(done)
    if missing:
        raise RuntimeError(f"{len(missing)} enquiries never reached the log")
    return (max(done[m] for m in started) - min(started.values())).total_seconds()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(n: int, raw_n: int, naive_n: int, latency_s: float) -> Figures:
    body = os.urandom(PAYLOAD_BYTES)
    with tempfile.TemporaryDirectory(prefix="liaison-bench-") as temp, Site(Path(temp)) as site:
        params = site.guest()
        raw = _raw.pipelined(params, "bench.raw", count=raw_n, body=body)
        naive = _raw.naive(params, "bench.raw", count=naive_n, body=body)
        _raw.delete(params, "bench.raw")
        exchange = Exchange(site, Path(temp))
        exchange.start()
        try:
            sent, submit_rate, rss = throughput(exchange, n, timeout=max(120.0, n / 20))
            timed, achieved = offered(exchange, LATENCY_RATE, latency_s, n)
            calm, _ = offered(exchange, SUSTAINED_RATE, latency_s, n + len(timed))
            done = n + len(timed) + len(calm)
            queued = prefilled(exchange, n, done, timeout=max(120.0, n / 20))
        finally:
            exchange.stop()
        handed = event_times(exchange.vn, EventType.HANDED_OVER)
        receipted = event_times(exchange.hk, EventType.RECEIPT_RECEIVED, related=True)
        published = event_times(exchange.hk, EventType.PUBLISHED)
    first_published = {m: published[m] for m in queued}
    latencies = [(handed[m] - at).total_seconds() * 1000 for m, at in timed.items()]
    sustained = [(handed[m] - at).total_seconds() * 1000 for m, at in calm.items()]
    return Figures(
        machine=f"{platform.machine()}, {os.cpu_count()} cpu, Python {platform.python_version()}",
        n=n,
        raw_per_s=raw.per_s,
        raw_confirm_s=raw.confirmed_at,
        naive_per_s=naive.per_s,
        submit_per_s=submit_rate,
        handed_over_per_s=n / span(sent, handed),
        delivered_per_s=n / span(sent, receipted),
        prefilled_handed_over_per_s=n / span(first_published, handed),
        prefilled_delivered_per_s=n / span(first_published, receipted),
        latency_rate=LATENCY_RATE,
        latency_offered=len(timed),
        latency_achieved_per_s=achieved,
        latency_p50_ms=statistics.median(latencies),
        latency_p99_ms=percentile(latencies, 0.99),
        latency_max_ms=max(latencies),
        sustained_rate=SUSTAINED_RATE,
        sustained_p50_ms=statistics.median(sustained),
        sustained_p99_ms=percentile(sustained, 0.99),
        vn_rss_mib=rss,
    )


def _ratio(value: float) -> str:
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


def render(f: Figures) -> str:
    raw = f.raw_per_s
    rows = [
        ("raw pika, 1,000 confirms in flight, end to end", raw),
        ("raw pika, one confirm per publish (publishing only)", f.naive_per_s),
        (f"Liaison, first submit to last handed over at VN (N = {f.n:,})", f.handed_over_per_s),
        ("Liaison, first submit to last DELIVERED receipt at HK", f.delivered_per_s),
        ("Liaison, submit alone (seal, envelope file, outbox commit; open store)", f.submit_per_s),
        (
            "Liaison daemons alone (outbox pre-filled): to handed over",
            f.prefilled_handed_over_per_s,
        ),
        ("Liaison daemons alone: to DELIVERED receipt", f.prefilled_delivered_per_s),
    ]
    lines = ["| path | msgs/s | vs raw pipelined |", "|---|---:|---:|"]
    lines += [f"| {name} | {rate:,.0f}/s | {_ratio(rate / raw)} |" for name, rate in rows]
    daemons_vs_naive = _ratio(f.prefilled_handed_over_per_s / f.naive_per_s)
    naive = (
        f"Liaison (handed over) vs naive pika: {_ratio(f.ratio_naive)};"
        f" daemons alone vs naive: {daemons_vs_naive}"
    )
    latency = (
        f"Latency submit -> handed over, {f.latency_rate:.0f}/s offered,"
        f" {f.latency_offered:,} enquiries (achieved {f.latency_achieved_per_s:,.0f}/s):"
        f" p50 {f.latency_p50_ms:,.0f} ms, p99 {f.latency_p99_ms:,.0f} ms,"
        f" max {f.latency_max_ms:,.0f} ms; at {f.sustained_rate:.0f}/s offered:"
        f" p50 {f.sustained_p50_ms:,.0f} ms, p99 {f.sustained_p99_ms:,.0f} ms"
    )
    rss = f"VN daemon RSS after {f.n:,} enquiries: {f.vn_rss_mib:.0f} MiB"
    lines += ["", naive, latency, rss]
    return "\n".join(lines)


def as_document(figures: Figures) -> dict[str, Any]:
    """The figures as one JSON-ready document (what ``--json`` prints)."""
    doc: dict[str, Any] = {"benchmark": "exchange", "figures": dataclasses.asdict(figures)}
    doc["figures"] |= {"ratio_ceiling": figures.ratio_ceiling, "ratio_naive": figures.ratio_naive}
    return doc


def run(quick: bool, n: int | None = None) -> Figures:
    return measure(
        n or (2_000 if quick else 20_000),
        raw_n=20_000 if quick else 100_000,
        naive_n=1_000 if quick else 3_000,
        latency_s=3.0 if quick else 10.0,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 2,000, 3 s of latency")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("-n", type=int, help="enquiries for the throughput run")
    args = parser.parse_args(argv)
    figures = run(args.quick, args.n)
    if args.json:
        print(json.dumps(as_document(figures), indent=2))
    else:
        print(f"Exchange end to end vs raw pika, same broker, same run ({figures.machine})")
        print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
