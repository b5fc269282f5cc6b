"""``liaison submit | daemon | status | inbox | respond``: running one office (docs/daemon.md).

Every command takes ``--config office.toml`` (or ``LIAISON_CONFIG``). ``submit`` and
``respond`` seal and queue durably and work without a running daemon; ``daemon`` publishes
the outbox, consumes the inbox, hands messages over and sends receipts; ``status`` and
``inbox`` read the office store and the exchange log and need no keys.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click
from rich.console import Console

from broker.cli.keys_cmd import PassphraseSource, passphrase_options
from broker.cli.output import emit, err, json_option
from broker.config import OfficeConfig, load_config
from broker.daemon import (
    Office,
    OfficeDaemon,
    amqp_settings,
    assess,
    load_office,
    needs_passphrase,
    read_status,
    respond,
    submit,
)
from broker.daemon.http_probe import start_probe
from broker.daemon.office import OfficePaths
from broker.daemon.reports import (
    inbox_json,
    message_report,
    outbox_report,
    parse_message_id,
)
from broker.daemon.submission import Queued
from broker.errors import LiaisonError, TransportError
from broker.log import configure_logging
from broker.messages import message_from_json
from broker.office_store import OfficeStore
from broker.spool import read_message_file

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        required=True,
        envvar="LIAISON_CONFIG",
        show_envvar=True,
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="office.toml",
        help="The office's configuration file.",
    )(func)


def _office(config: OfficeConfig, source: PassphraseSource) -> Office:
    if source == PassphraseSource() and config.keys.passphrase_env:
        source = PassphraseSource(env=config.keys.passphrase_env)
    passphrase = source.read(confirm=False) if needs_passphrase(config) else None
    return load_office(config, passphrase=passphrase, now=datetime.now(UTC))


def _queued_human(queued: Queued, what: str) -> Callable[[Console], None]:
    def human(console: Console) -> None:
        console.print(queued.message_id.hex())
        err.print(
            f"{what} queued for {', '.join(queued.recipients)}; follow it with 'liaison status'"
        )

    return human


# ---------------------------------------------------------------- submit / respond


@click.command("submit")
@click.argument("message_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE")
@config_option
@click.option("--to", multiple=True, metavar="OFFICE", help="Must match the enquiry's recipients.")
@passphrase_options
@json_option
def submit_command(
    *,
    message_file: Path,
    config_path: Path,
    to: tuple[str, ...],
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Submit an enquiry: validate, check the agreements, seal, queue durably.

    \b
      liaison submit enquiry.json --config office.toml
    \b
    Prints the message id once the envelope, its outbox entry and the "submitted" log entry are
    on disk; the daemon publishes it (it need not run now). An enquiry the agreements do not
    allow is refused (exit 6, naming the rule) and nothing is queued.
    """
    config = load_config(config_path)
    message = message_from_json(read_message_file(message_file))
    office = _office(config, PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase))
    queued = submit(office, message, now=datetime.now(UTC), to=to)
    emit(queued.to_json(), as_json=as_json, human=_queued_human(queued, "enquiry"))


@click.command("respond")
@click.argument("enquiry", metavar="ENQUIRY_ID")
@click.argument("response_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE")
@config_option
@passphrase_options
@json_option
def respond_command(
    *,
    enquiry: str,
    response_file: Path,
    config_path: Path,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Answer a received enquiry: seal the response to the office that asked, queue it.

    \b
      liaison respond 5b1f2c3a-7d4e-4f60-9a8b-1c2d3e4f5a6b response.json --config office.toml
    \b
    ENQUIRY_ID is the enquiry's id (or its message id, as 'liaison inbox' lists it); the
    response must name the same enquiry. The enquiry is marked answered.
    """
    config = load_config(config_path)
    message = message_from_json(read_message_file(response_file, what="response"))
    office = _office(config, PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase))
    queued = respond(office, enquiry, message, now=datetime.now(UTC))
    emit(queued.to_json(), as_json=as_json, human=_queued_human(queued, "response"))


# ---------------------------------------------------------------- daemon


@click.command("daemon")
@config_option
@passphrase_options
def daemon_command(
    *,
    config_path: Path,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
) -> None:
    """Run one office: publish the outbox, consume the inbox, hand over, send receipts.

    \b
      liaison daemon --config office.toml
    \b
    Logs JSON lines on standard error (log.format in the configuration). On SIGTERM or
    SIGINT it stops consuming, finishes the messages it holds, waits for pending confirms,
    and exits 0. Health: <data_dir>/daemon-status.json, or 'liaison status --health'; with
    [metrics] listen = "HOST:PORT", also /metrics (Prometheus), /healthz and /readyz over
    HTTP there (docs/operations.md).
    """
    config = load_config(config_path)
    configure_logging(fmt=config.log.format, level=config.log.level)
    office = _office(config, PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase))
    daemon = OfficeDaemon(office, amqp_settings(config))
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)  # only note it: the main loop below does the stopping

    # Bound before the daemon starts, so that a port in use fails before anything is opened.
    probe = start_probe(config.metrics.listen, daemon, office_id=office.office_id)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.start()
        while not received and daemon.alive:
            time.sleep(0.2)
        daemon.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if probe is not None:
            probe.stop()
    if daemon.error is not None:
        if isinstance(daemon.error, LiaisonError):
            raise daemon.error
        raise TransportError(f"the daemon failed: {type(daemon.error).__name__}")


# ---------------------------------------------------------------- status / inbox


@click.command("status")
@click.argument("message_id", required=False, metavar="[MESSAGE_ID]")
@config_option
@click.option(
    "--overdue",
    is_flag=True,
    help="Only what needs chasing: overdue, returned, rejected or expired deliveries.",
)
@click.option("--health", is_flag=True, help="The running daemon's health (exit 20 if unwell).")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="List at most this many deliveries, newest first.",
)
@json_option
def status_command(
    *,
    message_id: str | None,
    config_path: Path,
    overdue: bool,
    health: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Follow messages: queued, published, delivered, answered, overdue, ...

    \b
      liaison status --config office.toml                 every message sent, newest first
      liaison status 3f0c...e55 --config office.toml      one message: each recipient's timeline
      liaison status --overdue --config office.toml       what needs chasing
      liaison status --health --config office.toml        is the daemon well?
    """
    config = load_config(config_path)
    paths = OfficePaths(config.office.data_dir)
    now = datetime.now(UTC)
    if health:
        _health(paths, now, as_json)
        return
    with OfficeStore.open(paths.store, office_id=config.office.id) as store:
        if message_id is not None:
            report = message_report(store, paths.log, parse_message_id(message_id), now=now)
            emit(report, as_json=as_json, human=lambda c: _render_message(c, report))
            return
        rows = outbox_report(store, now=now, chasing_only=overdue, limit=limit)
    emit({"deliveries": rows}, as_json=as_json, human=lambda c: _render_deliveries(c, rows))


def _health(paths: OfficePaths, now: datetime, as_json: bool) -> None:
    document = read_status(paths.status)
    verdict = assess(document, now=now)
    data = {"healthy": verdict.healthy, "problem": verdict.problem or None, "status": document}

    def human(console: Console) -> None:
        console.print("healthy" if verdict.healthy else f"unhealthy: {verdict.problem}")
        if document:
            link = document.get("link", {})
            console.print(f"state {document.get('state')}, link {link.get('state')}")
            console.print(f"counts {document.get('counts')}")
            witness = document.get("witness")
            if isinstance(witness, dict) and witness.get("fork_alarms"):
                console.print(
                    f"fork alarms: {witness['fork_alarms']} (a partner's log contradicts what"
                    " this office cosigned; see the exchange log's fork-alarm entries)"
                )

    emit(data, as_json=as_json, human=human)
    if not verdict.healthy:
        raise TransportError(verdict.problem)


@click.command("inbox")
@config_option
@json_option
def inbox_command(*, config_path: Path, as_json: bool) -> None:
    """List received enquiries awaiting an answer, soonest due first.

    \b
      liaison inbox --config office.toml
    \b
    Each was handed over to the office's system as [handover] says (by default
    data/spool/in/<message-id>.json). Answer one with 'liaison respond ENQUIRY_ID
    response.json', or let the office's system drop its answer into the pickup folder.
    """
    config = load_config(config_path)
    now = datetime.now(UTC)
    paths = OfficePaths(config.office.data_dir)
    with OfficeStore.open(paths.store, office_id=config.office.id) as store:
        rows = [inbox_json(row, now=now) for row in store.awaiting_answer()]

    def human(console: Console) -> None:
        if not rows:
            console.print("no enquiry awaits an answer")
        for row in rows:
            due = f"due {row['due_at']}" + (" OVERDUE" if row["overdue"] else "")
            console.print(
                f"{row['enquiry_id']}  from {row['sender']}  {due}"
                f"  received {row['received_at']}  message {row['message_id']}"
            )

    emit({"enquiries": rows}, as_json=as_json, human=human)


def _render_deliveries(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("nothing to show")
    for row in rows:
        reason = f" ({row['reason']})" if row["reason"] else ""
        due = (
            f"  due {row['due_at']}" + (" PAST" if row["past_due"] else "") if row["due_at"] else ""
        )
        console.print(
            f"{row['message_id']}  {row['kind']} to {row['recipient']}: {row['state']}{reason}{due}"
        )


def _render_message(console: Console, report: dict[str, Any]) -> None:
    console.print(f"message {report['message_id']} ({report['direction']})")
    for row in report["deliveries"]:
        console.print(f"  to {row['recipient']}: {row['state']}" + (
            f" ({row['reason']})" if row["reason"] else ""))  # fmt: skip
        for name, moment in row["times"].items():
            console.print(f"    {name:<10} {moment}")
    if report["received"]:
        row = report["received"]
        console.print(f"  from {row['sender']}: {row['state']}, received {row['received_at']}")
    if report["log"]:
        console.print("  exchange log:")
        for entry in report["log"]:
            console.print(f"    #{entry['index']} {entry['time']} {entry['event']}")


COMMANDS = {
    "submit": submit_command,
    "respond": respond_command,
    "daemon": daemon_command,
    "status": status_command,
    "inbox": inbox_command,
}
