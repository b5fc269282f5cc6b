"""The demo's story, step by step, with what each step showed.

1. The Yunnan border liaison office (Hekou) sends an urgent missing-child alert to Viet Nam's
   Criminal Police Department and Laos's Anti-Trafficking Department (MEKONG-2014): one
   envelope, two recipients.
2. The Ministry's anti-trafficking office asks Spain's UCRIF for an identity check on a suspect
   (the China-Spain working group, CN-ES-WG-2016).
3. Hekou tries to ask Spain directly: no agreement allows it, so it is refused before anything
   is sealed or sent.
4. Each partner's daemon hands the enquiry to its own system in that system's format; the
   partners' systems answer from sample files dropped into their pickup folders; signed
   receipts and responses flow back.
5. The daemons stop (each signs a last checkpoint); every office's log is verified with public
   keys only, and each pair's logs are reconciled.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from broker.daemon.submission import Queued, submit
from broker.demo.world import ES, HK, LA, OCT, SIDES, VN, World, response_due
from broker.errors import PolicyRefused
from broker.exchange_log import (
    DirectoryLogKeys,
    EventType,
    ExchangeLog,
    LogEntry,
    decode_entry,
    store_beside,
)
from broker.exchange_log.reconcile import reconcile
from broker.exchange_log.verify import verify_log
from broker.model import CaseEnquiry
from broker.office_store import DeliveryState, OfficeStore

ROOT: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = ROOT / "docs" / "examples"
SAMPLES: Final = Path(__file__).resolve().parent / "samples"
ANSWERS: Final = {VN: "vn-answer.json", LA: "la-answer.xlsx", ES: "es-answer.xml"}
PAIRS: Final = ((HK, VN), (HK, LA), (OCT, ES))


@dataclass(frozen=True, slots=True)
class Sent:
    """One enquiry the demo sent: who, to whom, what."""

    label: str
    sender: str
    recipients: tuple[str, ...]
    queued: Queued


@dataclass
class Outcome:
    """What the run showed; ``failures`` empty means every step did what it should."""

    sent: list[Sent] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    handed_over: dict[str, list[str]] = field(default_factory=dict)
    timelines: list[dict[str, Any]] = field(default_factory=list)
    audits: dict[str, dict[str, Any]] = field(default_factory=dict)
    reconciliations: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _enquiry(name: str, recipients: tuple[str, ...], now: datetime, hours: float) -> CaseEnquiry:
    asked = CaseEnquiry.from_json((EXAMPLES / name).read_text("utf-8"))
    return dataclasses.replace(
        asked, recipient_offices=recipients, response_due=response_due(now, hours)
    )


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _state(world: World, sender: str, message_id: bytes, recipient: str) -> DeliveryState | None:
    with OfficeStore.open(world[sender].office.paths.store, office_id=sender) as store:
        rows = [d for d in store.deliveries_of(message_id) if d.recipient == recipient]
    return rows[0].state if rows else None


def send_enquiries(world: World, outcome: Outcome, *, say: Callable[[str], None]) -> None:
    now = datetime.now(UTC)
    alert = _enquiry("missing-child-alert.json", (VN, LA), now, hours=2)
    queued = submit(world[HK].office, alert, now=now)
    outcome.sent.append(Sent("missing-child alert", HK, (VN, LA), queued))
    say(f"{HK} -> {VN}, {LA}: urgent missing-child alert ({queued.message_id.hex()[:12]}…)")
    check = _enquiry("identity-check.json", (ES,), now, hours=72)
    queued = submit(world[OCT].office, check, now=now)
    outcome.sent.append(Sent("identity check", OCT, (ES,), queued))
    say(f"{OCT} -> {ES}: identity check on a suspect ({queued.message_id.hex()[:12]}…)")
    direct = dataclasses.replace(check, requesting_office=HK)
    try:
        submit(world[HK].office, direct, now=now)
    except PolicyRefused as exc:
        outcome.refused[f"{HK} -> {ES}"] = f"rule {exc.rule}"
        say(f"{HK} -> {ES}: refused before sending ({exc.rule}): no agreement allows it")
    else:
        outcome.failures.append(f"{HK} -> {ES} was not refused")


def hand_overs(
    world: World, outcome: Outcome, *, timeout: float, say: Callable[[str], None]
) -> None:
    for office_id, suffix in ((VN, ".json"), (LA, ".xlsx"), (ES, ".xml")):
        folder = world[office_id].deliver_dir

        def arrived(folder: Path = folder, suffix: str = suffix) -> bool:
            return folder.is_dir() and any(folder.glob(f"*{suffix}"))

        if wait_until(arrived, timeout):
            names = sorted(p.name for p in folder.glob(f"*{suffix}"))
            outcome.handed_over[office_id] = names
            say(f"{office_id}'s system received {names[0]} ({SIDES[office_id].describe})")
        else:
            outcome.failures.append(f"nothing was handed over to {office_id} in {timeout:g} s")


def answers(world: World, outcome: Outcome, *, timeout: float, say: Callable[[str], None]) -> None:
    for office_id, name in ANSWERS.items():
        target = world[office_id].pickup_dir / name
        shutil.copyfile(SAMPLES / name, target.with_name(f".{name}.part"))
        target.with_name(f".{name}.part").rename(target)  # the partner's system renames when done
        say(f"{office_id}'s system answers: {name} dropped into its pickup folder")
    for sent in outcome.sent:
        for recipient in sent.recipients:

            def answered(sent: Sent = sent, recipient: str = recipient) -> bool:
                state = _state(world, sent.sender, sent.queued.message_id, recipient)
                return state is DeliveryState.ANSWERED

            if wait_until(answered, timeout):
                say(f"{sent.sender} has {recipient}'s signed answer to the {sent.label}")
            else:
                state = _state(world, sent.sender, sent.queued.message_id, recipient)
                outcome.failures.append(
                    f"{sent.label} to {recipient}: not answered in {timeout:g} s"
                    f" (state {state.value if state else 'unknown'})"
                )


def settle(world: World, outcome: Outcome, *, timeout: float, say: Callable[[str], None]) -> None:
    """Wait until every message of each pair is logged on both sides (the last receipts)."""

    def agreed() -> bool:
        now = datetime.now(UTC)
        return all(
            reconcile(a, _entries(world, a), b, _entries(world, b), now=now).agree for a, b in PAIRS
        )

    if wait_until(agreed, timeout):
        say("every message is logged by its sender and its recipient: nothing in flight")
    else:
        outcome.failures.append(f"messages were still in flight after {timeout:g} s")


def _entries(world: World, office_id: str) -> list[tuple[int, LogEntry]]:
    with ExchangeLog.open_existing(world[office_id].office.paths.log) as log:
        return [(index, decode_entry(data)) for index, data in log.iter_entries()]


def _when(
    entries: list[tuple[int, LogEntry]],
    event: EventType,
    *,
    message_id: bytes = b"",
    related: bytes = b"",
    sender: str = "",
) -> datetime | None:
    """The time of the first entry of ``event`` matching the given fields."""
    for _, entry in entries:
        if (
            entry.event is event
            and (not message_id or entry.message_id == message_id)
            and (not related or entry.related_message_id == related)
            and (not sender or entry.sender == sender)
        ):
            return entry.time
    return None


def timelines(world: World, outcome: Outcome) -> None:
    """Sent, handed over, receipt, answered: per enquiry and recipient, from both logs."""
    for sent in outcome.sent:
        mine = _entries(world, sent.sender)
        message_id = sent.queued.message_id
        for recipient in sent.recipients:
            theirs = _entries(world, recipient)
            outcome.timelines.append(
                {
                    "enquiry": sent.label,
                    "message_id": message_id.hex(),
                    "from": sent.sender,
                    "to": recipient,
                    "sent": _when(mine, EventType.SUBMITTED, message_id=message_id),
                    "handed_over": _when(theirs, EventType.HANDED_OVER, message_id=message_id),
                    "receipt": _when(
                        mine, EventType.RECEIPT_RECEIVED, related=message_id, sender=recipient
                    ),
                    "answered": _when(
                        mine, EventType.RESPONSE_RECEIVED, related=message_id, sender=recipient
                    ),
                }
            )


def audits(world: World, outcome: Outcome, *, say: Callable[[str], None]) -> None:
    for office_id, each in world.offices.items():
        directory = each.office.directory
        path = each.office.paths.log
        report = verify_log(
            path,
            log_keys=DirectoryLogKeys(directory),
            directory=directory,
            envelopes=store_beside(path),
            full=True,
            workers=1,
        )
        verdict = "no problems" if report.ok else f"{len(report.problems)} problem(s)"
        outcome.audits[office_id] = {
            "ok": report.ok,
            "summary": report.summary(),
            "short": f"{report.entries} entries, {report.checkpoints} checkpoint(s),"
            f" {report.envelopes_checked} envelopes: {verdict}",
            "problems": [f"{p.code.value} {p.location()}" for p in report.problems],
        }
        if not report.ok:
            outcome.failures.append(f"{office_id}'s log: {report.summary()}")
    say("every office's exchange log verified with public keys only")
    now = datetime.now(UTC)
    for a, b in PAIRS:
        found = reconcile(a, _entries(world, a), b, _entries(world, b), now=now)
        latency = found.latency_summary()
        outcome.reconciliations.append(
            {
                "pair": f"{a} / {b}",
                "agree": found.agree,
                "delivered": latency["count"],
                "median_latency_ms": latency["median_ms"],
                "findings": [f"{f.code.value}: {f.detail}" for f in found.findings],
            }
        )
        if not found.agree:
            outcome.failures.append(f"{a} and {b}'s logs disagree")
    say("each pair's logs reconciled message by message")
