"""``liaison demo``: five offices, three partner formats, one real RabbitMQ, about a minute."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from broker.cli.output import err, out
from broker.demo import scenario
from broker.demo.broker_source import find_broker
from broker.demo.world import OFFICES, SIDES, World, build_world
from broker.errors import IntegrityError
from broker.log import configure_logging


class Narrator:
    """Progress for a person: one line per step, with the time since the start."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._start = time.monotonic()
        self.steps: list[dict[str, Any]] = []

    def __call__(self, text: str) -> None:
        elapsed = time.monotonic() - self._start
        self.steps.append({"at_s": round(elapsed, 2), "step": text})
        self._console.print(f"[dim]{elapsed:5.1f} s[/]  {text}", highlight=False)

    def stage(self, title: str) -> None:
        self._console.print(f"\n[bold]{title}[/]", highlight=False)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start


@click.command("demo")
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the offices' files (default: a new temporary folder, kept for a look).",
)
@click.option("--keep", is_flag=True, help="Leave the demo's vhost and users on the broker.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help="Seconds each step may take before it counts as failed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def demo_command(*, work: Path | None, keep: bool, timeout: float, as_json: bool) -> None:
    """Run a realistic exchange between five offices end to end, on a real RabbitMQ.

    \b
    The offices and the formats of their own systems:
      CN-YN-BLO-HK  Yunnan border liaison office, Hekou    canonical JSON
      CN-MPS-OCT    Ministry of Public Security, OCT       canonical JSON
      VN-BCA-C02    Viet Nam, Criminal Police Department   JSON (its API's format)
      LA-MOPS-ATD   Laos, Anti-Trafficking Department      bilingual spreadsheet (Lao)
      ES-PN-UCRIF   Spain, National Police UCRIF            UMF-style XML

    \b
    The story: Hekou sends an urgent missing-child alert to Viet Nam and Laos; the Ministry
    asks Spain for an identity check; Hekou's attempt to ask Spain directly is refused
    before sending (no agreement allows it). Each partner's daemon hands the enquiry to its
    system in that system's format; the partners answer from sample files; signed receipts
    and responses flow back. Then every office's exchange log is verified with public keys
    only, and each pair's logs are reconciled.

    \b
    The broker: LIAISON_AMQP_URL if set; else the local one on 127.0.0.1:5672 if rabbitmqctl
    can manage it; else a private node started in the work folder (when RabbitMQ is
    installed); else a Docker container. The demo works in a fresh vhost with its own users
    and removes both at the end (unless --keep). The work folder stays for a closer look.

    Exits 0 when every step did what it should; 30 when a step failed (a step did not finish
    in time, a log did not verify, two logs disagree); 20 when a daemon could not connect; 7
    when no broker could be found (the message says how to get one).
    """
    console = err if as_json else out
    # A terminal closed or a kill: stop like Ctrl-C, so the daemons stop and the vhost goes.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    configure_logging(fmt="json", level="error", stream=sys.stderr)
    folder = work or Path(tempfile.mkdtemp(prefix="liaison-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    narrate = Narrator(console)
    outcome = scenario.Outcome()
    left_on_broker = "the vhost and users (--keep)"
    narrate.stage("Liaison demo: five offices, three partner formats, one RabbitMQ")
    with find_broker(folder, say=narrate) as broker:
        narrate(f"broker: {broker.origin}")
        world = build_world(folder, broker, now=_now(), say=narrate)
        try:
            _run(world, outcome, narrate, timeout)
        finally:
            world.stop()
            if not keep:
                left_on_broker = "nothing" if world.remove() else "the vhost (removal failed)"
            narrate(f"daemons stopped; left on the broker: {left_on_broker}")
        narrate.stage("Audit")
        scenario.timelines(world, outcome)
        scenario.audits(world, outcome, say=narrate)
    summary = _summary(world, outcome, narrate, left_on_broker)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    else:
        _render(out, world, outcome, summary)
    if outcome.failures:
        raise IntegrityError(f"{len(outcome.failures)} step(s) failed: {outcome.failures[0]}")


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _now() -> datetime:
    return datetime.now(UTC)


def _run(world: World, outcome: scenario.Outcome, narrate: Narrator, timeout: float) -> None:
    narrate.stage("Offices")
    world.start(timeout=timeout)
    for office_id in OFFICES:
        narrate(f"{office_id} daemon running; its system speaks {SIDES[office_id].describe}")
    narrate.stage("Enquiries")
    scenario.send_enquiries(world, outcome, say=narrate)
    narrate.stage("Hand-over to the partners' own systems")
    scenario.hand_overs(world, outcome, timeout=timeout, say=narrate)
    narrate.stage("Answers")
    scenario.answers(world, outcome, timeout=timeout, say=narrate)
    scenario.settle(world, outcome, timeout=timeout, say=narrate)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _summary(
    world: World, outcome: scenario.Outcome, narrate: Narrator, left_on_broker: str
) -> dict[str, Any]:
    return {
        "ok": not outcome.failures,
        "seconds": round(narrate.elapsed, 1),
        "work_folder": str(world.work),
        "broker": world.broker.origin,
        "vhost": world.vhost,
        "left_on_broker": left_on_broker,
        "refused_before_sending": outcome.refused,
        "handed_over": outcome.handed_over,
        "timelines": [
            {
                **row,
                "to_handed_over_s": _seconds(row["sent"], row["handed_over"]),
                "to_receipt_s": _seconds(row["sent"], row["receipt"]),
                "to_answer_s": _seconds(row["sent"], row["answered"]),
            }
            for row in outcome.timelines
        ],
        "audits": outcome.audits,
        "reconciliations": outcome.reconciliations,
        "failures": outcome.failures,
        "steps": narrate.steps,
    }


def _delta(seconds: float | None) -> str:
    return "[red]missing[/]" if seconds is None else f"+{seconds:.2f} s"


def _render(
    console: Console, world: World, outcome: scenario.Outcome, summary: dict[str, Any]
) -> None:
    table = Table(title="Timeline per enquiry: time after sending, from both offices' logs")
    table.add_column("enquiry")
    for column in ("from", "to", "handed over", "receipt", "answered"):
        table.add_column(column, no_wrap=True)
    for row in summary["timelines"]:
        table.add_row(
            row["enquiry"],
            row["from"],
            row["to"],
            _delta(row["to_handed_over_s"]),
            _delta(row["to_receipt_s"]),
            _delta(row["to_answer_s"]),
        )
    console.print()
    console.print(table)
    for pair, rule in outcome.refused.items():
        console.print(
            f"identity check {pair}: [yellow]refused before sending[/] ({rule}):"
            " no agreement allows it, so nothing was sealed or sent\n",
            highlight=False,
        )
    audits = Table(title="Exchange logs, verified with public keys only")
    audits.add_column("office")
    audits.add_column("result")
    for office_id, audit in outcome.audits.items():
        colour = "green" if audit["ok"] else "red"
        audits.add_row(office_id, f"[{colour}]{audit['short']}[/]")
    console.print(audits)
    pairs = Table(title="Reconciliation of each pair's logs")
    for column in ("offices", "messages delivered", "median latency", "result"):
        pairs.add_column(column)
    for each in outcome.reconciliations:
        verdict = "[green]agree[/]" if each["agree"] else "[red]disagree[/]"
        latency = each["median_latency_ms"]
        pairs.add_row(
            each["pair"],
            str(each["delivered"]),
            "-" if latency is None else f"{latency} ms",
            verdict + "".join(f"\n{f}" for f in each["findings"]),
        )
    console.print(pairs)
    console.print(f"\nFiles for a closer look: [bold]{world.work}[/]")
    console.print(
        "  <office>/data/exchange-log.db   the log: liaison audit verify, replay, reconcile\n"
        "  <office>/data/spool/in/         what each office's own system received\n"
        "  <office>/partner/answers/done/  the partners' answer files, each with its result\n"
        "  <office>/office.toml            each daemon's configuration",
        highlight=False,
    )
    console.print(f"Left on the broker: {summary['left_on_broker']}.")
    if outcome.failures:
        console.print("[bold red]Failed steps:[/]")
        for failure in outcome.failures:
            console.print(f"  - {failure}", highlight=False)
    else:
        console.print(f"[bold green]All steps passed[/] in {summary['seconds']} s.")
