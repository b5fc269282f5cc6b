"""Every Liaison benchmark in one run, each beside a baseline measured in that same run, and a
report (report.md, report.json, throughput.png, latency.png) in one folder.

    .venv/bin/python -m bench.run --quick    # routine check, under two minutes
    .venv/bin/python -m bench.run            # the figures we quote: 40 to 55 minutes
    .venv/bin/python -m bench.run --out DIR  # the report's folder

Baselines: joserfc's nested JWS-in-JWE (envelope seal/open); bare hashlib SHA-256 over the
log's entry bytes (audit verify); raw pika with 1,000 publisher confirms in flight and batched
acks (the ceiling this broker allows for durable messages) and a BlockingConnection publisher
waiting for each confirm (naive). Scenarios: 2 KiB and 64 KiB envelopes to 1, 8 and 64
recipients; HK to VN end to end through two daemons; 200, 500, 1,000 and 2,000 enquiries/s
offered, p50/p95/p99 submit-to-handed-over and submit-to-receipt; 2, 20 and 200 office inboxes
on one broker; a soak sampling both daemons' RSS and file descriptors (30 min, every minute;
--quick: 30 s, every 5 s). Every target of issue #10 is reported met or missed, by how much.

Needs the local RabbitMQ (127.0.0.1:5672, guest) and rabbitmqctl (root), or with --broker
private the rabbitmq-server program; makes a fresh vhost and users and removes them at the end.
See docs/performance.md, "The benchmark command".
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _raw, envelope_bench, exchange_bench, load, log_bench, report
from bench._machine import describe
from bench._site import HK, LOCAL_PORT, VN, Site
from bench.exchange_bench import Exchange
from broker.exchange_log import EventType
from broker.rabbitmq_admin import Rabbitmqctl
from broker.rabbitmq_node import RabbitNode, free_port

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Plan:
    mode: str
    envelope_seconds: float  # per figure
    envelope_pq: bool
    log_entries: int
    raw_n: int
    naive_n: int
    n: int  # enquiries for the end-to-end throughput
    prefilled: bool  # also time the daemons alone (outbox filled while HK's daemon is stopped)
    rate_window_s: float
    drain_cap_s: float
    inboxes: tuple[int, ...]
    inbox_raw_n: int
    inbox_secure_n: int  # 0: no secure run per inbox count
    soak_s: float
    soak_interval_s: float
    soak_rate: float
    broker: str = "local"  # or "private": a node of the run's own (see _broker)


QUICK = Plan(
    mode="quick",
    envelope_seconds=0.3,
    envelope_pq=False,
    log_entries=10_000,
    raw_n=10_000,
    naive_n=300,
    n=200,
    prefilled=False,
    rate_window_s=1.5,
    drain_cap_s=20.0,
    inboxes=(2, 20, 200),
    inbox_raw_n=5_000,
    inbox_secure_n=0,
    soak_s=30.0,
    soak_interval_s=5.0,
    soak_rate=50.0,
)
FULL = Plan(
    mode="full",
    envelope_seconds=3.0,
    envelope_pq=True,
    log_entries=1_000_000,
    raw_n=100_000,
    naive_n=3_000,
    n=20_000,
    prefilled=True,
    rate_window_s=10.0,
    drain_cap_s=300.0,
    inboxes=(2, 20, 200),
    inbox_raw_n=50_000,
    inbox_secure_n=2_000,
    soak_s=30 * 60.0,
    soak_interval_s=60.0,
    soak_rate=50.0,
)
RECIPIENTS = (1, 8, 64)
# envelope_bench's case names: "seal 2 KiB, 8 recipient(s), liaison-v1-pq"
CASE = re.compile(r"(?P<op>seal|open) [^,]+, (?P<recipients>\d+) recipient\S*(?:, (?P<suite>\S+))?")


class Run:
    """The figures document as it fills, with each phase's time and any scenario's failure."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.began = time.perf_counter()
        self.figures: dict[str, Any] = {
            "mode": plan.mode,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "plan": asdict(plan),
            "phases_s": {},
            "errors": [],
        }

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a phase; a failure is recorded and reported, and the run goes on."""
        self.note(f"{name} ...")
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - reported in the run's errors and the report
            traceback.print_exc()
            self.figures["errors"].append(
                {"scenario": name, "error": f"{type(exc).__name__}: {exc}"}
            )
        finally:
            self.figures["phases_s"][name] = round(time.perf_counter() - started, 1)

    def note(self, text: str) -> None:
        """A progress line on standard output (the report has the figures)."""
        print(f"[{time.perf_counter() - self.began:6.1f} s] {text}", flush=True)


def envelope_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """envelope_bench's figures with what the report selects them by."""
    rows = []
    for figure in document["figures"]:
        case: str = figure["case"]
        found = CASE.fullmatch(case)
        if found is None:
            raise ValueError(f"envelope case {case!r} not understood")
        rows.append(
            figure
            | {
                "op": found["op"],
                "recipients": int(found["recipients"]),
                "suite": found["suite"] or "liaison-v1",
            }
        )
    return rows


@dataclass
class Traffic:
    """What the exchange scenarios sent, by message id and submit time, for the log reading."""

    raw: _raw.RawRun | None = None
    naive: _raw.RawRun | None = None
    sent: dict[bytes, datetime] = field(default_factory=dict)
    submit_per_s: float = 0.0
    vn_rss_mib: float = 0.0
    queued: dict[bytes, datetime] = field(default_factory=dict)
    offered: list[load.Offered] = field(default_factory=list)
    secure: dict[int, dict[bytes, datetime]] = field(default_factory=dict)


def measure_exchange(run: Run, temp: Path) -> None:
    """Everything on the broker, in one site (a fresh vhost): the raw baselines, the inbox
    scenario's raw runs, HK to VN end to end, offered rates, the soak, more inboxes."""
    plan, traffic = run.plan, Traffic()
    body = os.urandom(exchange_bench.PAYLOAD_BYTES)
    with _broker(run, temp) as (ctl, port), Site(temp, ctl=ctl, port=port) as site:
        params = site.guest()
        with run.phase("raw pika baselines"):
            traffic.raw = _raw.pipelined(params, "bench.raw", count=plan.raw_n, body=body)
            traffic.naive = _raw.naive(params, "bench.raw", count=plan.naive_n, body=body)
            _raw.delete(params, "bench.raw")
            run.note(f"raw {traffic.raw.per_s:,.0f}/s, naive {traffic.naive.per_s:,.0f}/s")
        offices = [HK, VN]
        inbox_rows: list[dict[str, Any]] = []
        run.figures["inboxes"] = inbox_rows
        with run.phase(f"raw over {len(offices)} inboxes"):
            spread = load.raw_over_inboxes(site, offices, plan.inbox_raw_n)
            inbox_rows.append({"inboxes": 2, "declare_s": 0.0, "raw_per_s": spread.per_s})
        exchange = Exchange(site, temp)
        run.note("starting the daemons")
        exchange.start()
        try:
            _with_daemons(run, exchange, traffic)
        finally:
            exchange.stop()
        fds_per_office: float | None = None
        for count in plan.inboxes[1:]:
            with run.phase(f"{count} inboxes"):
                row = load.grow_inboxes(site, offices, count, fds_per_office)
                inbox_rows.append(row)
                if "skipped" in row:
                    run.note(row["skipped"])
                    break
                fds_per_office = row["fds_per_office"]
                spread = load.raw_over_inboxes(site, offices, plan.inbox_raw_n)
                row["raw_per_s"] = spread.per_s
                run.note(f"declared in {row['declare_s']:.1f} s; raw {spread.per_s:,.0f}/s")
                if plan.inbox_secure_n:
                    exchange.start()
                    try:
                        traffic.secure[count] = _burst(exchange, plan.inbox_secure_n)
                    finally:
                        exchange.stop()
        with run.phase("reading the exchange logs"):
            _collect(run, exchange, traffic)


# A private node's open-files limit: RabbitMQ advises 65,536; the process's hard limit caps it.
PRIVATE_OPEN_FILES = 65_536


@contextmanager
def _broker(run: Run, temp: Path) -> Iterator[tuple[Rabbitmqctl, int]]:
    """The broker every exchange scenario uses: the local one, or (``--broker private``) a
    node started for the run in ``temp``, as the user running it, with the open-files limit
    raised as far as this process may (the local service's 1,024 holds about 120 offices'
    quorum queues, not 200)."""
    if run.plan.broker == "local":
        run.figures["broker"] = {"kind": "local", "port": LOCAL_PORT}
        yield Rabbitmqctl(), LOCAL_PORT
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = PRIVATE_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, PRIVATE_OPEN_FILES)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # the node inherits it
    node = RabbitNode(temp / "rabbitmq", amqp_port=free_port())
    run.note(f"starting a private RabbitMQ node on 127.0.0.1:{node.amqp_port}")
    node.start()
    try:
        run.figures["broker"] = {
            "kind": "private",
            "port": node.amqp_port,
            "open_files": max(soft, wanted),
        }
        yield node.rabbitmqctl(), node.amqp_port
    finally:
        node.stop()


def _with_daemons(run: Run, exchange: Exchange, traffic: Traffic) -> None:
    plan = run.plan
    with run.phase("end to end"):
        timeout = max(120.0, plan.n / 20)
        sent, traffic.submit_per_s, traffic.vn_rss_mib = exchange_bench.throughput(
            exchange, plan.n, timeout
        )
        traffic.sent = sent
        run.note(f"{plan.n:,} submitted at {traffic.submit_per_s:,.0f}/s; all delivered")
        if plan.prefilled:
            done, _ = load.counts(exchange)
            traffic.queued = exchange_bench.prefilled(exchange, plan.n, done, timeout)
    if plan.inbox_secure_n:
        with run.phase("secure with 2 inboxes"):
            traffic.secure[2] = _burst(exchange, plan.inbox_secure_n)
    for rate in load.RATES:
        with run.phase(f"offered {rate:,.0f}/s"):
            offered = load.offer(exchange, rate, plan.rate_window_s, plan.drain_cap_s)
            traffic.offered.append(offered)
            run.note(
                f"{len(offered.submitted):,} of {offered.offered:,} submitted"
                f" ({offered.achieved_per_s:,.0f}/s); drained: {offered.drained}"
            )
    with run.phase("soak"):
        run.figures["soak"] = load.soak(exchange, plan.soak_s, plan.soak_interval_s, plan.soak_rate)


def _collect(run: Run, exchange: Exchange, traffic: Traffic) -> None:
    """The end-to-end, latency and secure-inbox figures, from the offices' exchange logs."""
    handed = exchange_bench.event_times(exchange.vn, EventType.HANDED_OVER)
    receipted = exchange_bench.event_times(exchange.hk, EventType.RECEIPT_RECEIVED, related=True)
    published = exchange_bench.event_times(exchange.hk, EventType.PUBLISHED)
    raw, naive, n, span = traffic.raw, traffic.naive, run.plan.n, exchange_bench.span
    if traffic.sent and raw and naive:
        first_published = {m: published[m] for m in traffic.queued}
        delivered = n / span(traffic.sent, receipted)
        run.figures["exchange"] = {
            "n": n,
            "raw_per_s": raw.per_s,
            "raw_messages": raw.messages,
            "raw_confirm_s": raw.confirmed_at,
            "naive_per_s": naive.per_s,
            "naive_messages": naive.messages,
            "submit_per_s": traffic.submit_per_s,
            "handed_over_per_s": n / span(traffic.sent, handed),
            "delivered_per_s": delivered,
            "prefilled_handed_over_per_s": (
                n / span(first_published, handed) if traffic.queued else None
            ),
            "prefilled_delivered_per_s": (
                n / span(first_published, receipted) if traffic.queued else None
            ),
            "vn_rss_mib": traffic.vn_rss_mib,
            "ratio_ceiling": delivered / raw.per_s,
            "ratio_naive": delivered / naive.per_s,
        }
    run.figures["latency"] = [load.latency_row(t, handed, receipted) for t in traffic.offered]
    for row in run.figures["inboxes"]:
        burst = traffic.secure.get(row["inboxes"])
        if burst:
            row["secure_n"] = len(burst)
            row["secure_delivered_per_s"] = len(burst) / span(burst, receipted)


def _burst(exchange: Exchange, n: int) -> dict[bytes, datetime]:
    sent, _, _ = exchange_bench.throughput(exchange, n, timeout=max(120.0, n / 20))
    return sent


def measure_all(plan: Plan) -> dict[str, Any]:
    run = Run(plan)
    with run.phase("machine"):
        run.figures["machine"] = describe()
    with run.phase("envelope"):
        document = envelope_bench.run(
            plan.mode == "quick",
            seconds=plan.envelope_seconds,
            recipients=RECIPIENTS,
            pq=plan.envelope_pq,
        )
        run.figures["envelope"] = envelope_rows(document)
    with run.phase("log"):
        run.figures["log"] = log_bench.run(plan.log_entries)
    with run.phase("exchange"), tempfile.TemporaryDirectory(prefix="liaison-bench-") as temp:
        measure_exchange(run, Path(temp))
    run.figures["wall_s"] = round(time.perf_counter() - run.began, 1)
    return run.figures


def main(
    argv: list[str] | None = None, measure: Callable[[Plan], dict[str, Any]] = measure_all
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=(__doc__ or "").split("\n\n")[0].replace("\n", " "),
        epilog="Exit status: 0 when every scenario ran (targets met or not), 1 when one failed.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short runs, 30 s soak: under two minutes"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the report, made if missing (default: bench/results/liaison-bench-"
        "<UTC time>-full, or for --quick the same name under the system's temporary folder)",
    )
    parser.add_argument(
        "--broker",
        choices=("local", "private"),
        default="local",
        help="local: the RabbitMQ at 127.0.0.1:5672 (default; rabbitmqctl as root). private: a"
        " node of the run's own on a free port, started from the installed rabbitmq-server with"
        " a higher open-files limit, for the 200-inbox step where the local broker's limit is"
        " too low; stopped and removed at the end",
    )
    args = parser.parse_args(argv)
    plan = dataclasses.replace(QUICK if args.quick else FULL, broker=args.broker)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Quick runs are routine checks, never quoted: out of the working tree unless asked.
    default = RESULTS if plan.mode == "full" else Path(tempfile.gettempdir())
    out: Path = args.out or default / f"liaison-bench-{stamp}-{plan.mode}"
    figures = measure(plan)
    paths = report.write(figures, out)
    print((out / "report.md").read_text(encoding="utf-8"))
    print("report written to " + ", ".join(str(p) for p in paths))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
