"""A small world of offices exchanging real sealed envelopes, logged through the public API.

Other exchange-log tests build their logs with ``World``; the tests here check the world itself
behaves like the daemon will (every event logged, envelopes stored before they are named).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.envelope import (
    Header,
    MessageKind,
    Recipient,
    StaticDirectory,
    Suite,
    peek_header,
    seal,
)
from broker.exchange_log import (
    EnvelopeStore,
    EventType,
    ExchangeLog,
    LogEntry,
    entry_for_envelope,
    log_signer,
)
from broker.keys.files import save_office_keys
from broker.keys.model import OfficeKeys
from broker.model import CaseEnquiry, Receipt, ReceiptStatus

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HK, VN, TH = "CN-YN-BLO-HK", "VN-BCA-C02", "TH-CMI-LO-01"
ENQUIRY_JSON = (ROOT / "docs" / "examples" / "identity-check.json").read_text(encoding="utf-8")


@dataclass
class Office:
    keys: OfficeKeys
    folder: Path
    log: ExchangeLog
    store: EnvelopeStore

    @property
    def id(self) -> str:
        return self.keys.office_id

    @property
    def log_path(self) -> Path:
        return self.folder / "exchange-log.db"

    @property
    def key_dir(self) -> Path:
        return self.folder / "keys"


class World:
    """Offices with keys, logs and envelope stores under one folder, and a shared clock."""

    def __init__(
        self,
        folder: Path,
        ids: tuple[str, ...] = (HK, VN, TH),
        *,
        start: datetime = T0,
        keys: dict[str, OfficeKeys] | None = None,
    ) -> None:
        self.now = start
        self.offices: dict[str, Office] = {}
        given = keys or {}
        for office_id in ids:
            office_keys = given.get(office_id) or OfficeKeys.generate(office_id)
            data = folder / office_id
            data.mkdir(parents=True)
            save_office_keys(office_keys, data / "keys")
            log = ExchangeLog.open(data / "exchange-log.db", office_id=office_id)
            store = EnvelopeStore(data / "envelopes")
            self.offices[office_id] = Office(office_keys, data, log, store)
        self.directory = StaticDirectory.of(1, [o.keys.public() for o in self.offices.values()])

    def close(self) -> None:
        for office in self.offices.values():
            office.log.close()

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def __getitem__(self, office_id: str) -> Office:
        return self.offices[office_id]

    def seal(
        self, sender: str, recipients: tuple[str, ...], kind: MessageKind, payload: bytes
    ) -> tuple[bytes, Header]:
        envelope = seal(
            payload,
            kind=kind,
            sender=self[sender].keys,
            recipients=[Recipient(r, Suite.V1, self[r].keys.public()) for r in recipients],
            directory_version=1,
            now=self.now,
        )
        return envelope, peek_header(envelope)

    def log(
        self, office: str, event: EventType, header: Header, digest: bytes, **extra: object
    ) -> int:
        entry = entry_for_envelope(event, header, digest, time=self.tick(), **extra)  # type: ignore[arg-type]
        return self[office].log.append(entry)

    def send(
        self,
        sender: str,
        recipient: str,
        *,
        case_ref: str = "HK-2026-0042",
        kind: MessageKind = MessageKind.ENQUIRY,
        due: datetime | None = None,
        related: bytes = b"",
        deliver: bool = True,
        receipt: bool = True,
        receipt_arrives: bool = True,
        payload: bytes | None = None,
    ) -> bytes:
        """One message from ``sender`` to ``recipient``, logged as the daemons would."""
        body = payload if payload is not None else CaseEnquiry.from_json(ENQUIRY_JSON).to_bytes()
        envelope, header = self.seal(sender, (recipient,), kind, body)
        digest = self[sender].store.put(envelope)
        link = {"related_message_id": related} if related else {}
        self.log(sender, EventType.SUBMITTED, header, digest, case_ref=case_ref, due_at=due, **link)
        if kind is MessageKind.RESPONSE:
            self.log(sender, EventType.RESPONSE_SENT, header, digest, case_ref=case_ref, **link)
        self.log(sender, EventType.PUBLISHED, header, digest)
        self.log(sender, EventType.CONFIRMED, header, digest)
        if not deliver:
            return header.message_id
        self.tick(0.5)
        self[recipient].store.put(envelope)
        self.log(recipient, EventType.RECEIVED, header, digest, case_ref=case_ref)
        if kind is MessageKind.RESPONSE:
            self.log(recipient, EventType.RESPONSE_RECEIVED, header, digest, **link)
        self.log(recipient, EventType.HANDED_OVER, header, digest)
        if receipt:
            self._receipt(recipient, sender, header, digest, arrives=receipt_arrives)
        return header.message_id

    def _receipt(
        self, by: str, to: str, acked: Header, acked_digest: bytes, *, arrives: bool
    ) -> None:
        body = Receipt(
            message_id=acked.message_id,
            envelope_digest=acked_digest,
            status=ReceiptStatus.ACCEPTED,
            receiving_office=by,
            received_at=self.now,
        ).to_bytes()
        envelope, header = self.seal(by, (to,), MessageKind.RECEIPT, body)
        digest = self[by].store.put(envelope)
        link = {"related_message_id": acked.message_id}
        self.log(by, EventType.RECEIPT_SENT, header, digest, **link)
        self.log(by, EventType.PUBLISHED, header, digest)
        if not arrives:
            return
        self[to].store.put(envelope)
        self.log(to, EventType.RECEIVED, header, digest)
        self.log(to, EventType.RECEIPT_RECEIVED, header, digest, **link)

    def checkpoint(self, office: str) -> int:
        return self[office].log.checkpoint(log_signer(self[office].keys), self.tick()).size

    def office_event(self, office: str, event: EventType, **fields: object) -> int:
        entry = LogEntry(event, self.tick(), **fields)  # type: ignore[arg-type]
        return self[office].log.append(entry)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def test_an_exchange_is_logged_on_both_sides(world: World) -> None:
    enquiry = world.send(HK, VN, due=T0 + timedelta(days=5))
    hk = [world[HK].log.entry(i) for i in range(world[HK].log.size)]
    vn = [world[VN].log.entry(i) for i in range(world[VN].log.size)]
    assert [e.event for e in hk] == [
        EventType.SUBMITTED,
        EventType.PUBLISHED,
        EventType.CONFIRMED,
        EventType.RECEIVED,
        EventType.RECEIPT_RECEIVED,
    ]
    assert [e.event for e in vn] == [
        EventType.RECEIVED,
        EventType.HANDED_OVER,
        EventType.RECEIPT_SENT,
        EventType.PUBLISHED,
    ]
    assert hk[0].message_id == enquiry == vn[0].message_id
    assert hk[0].due_at == T0 + timedelta(days=5)
    assert hk[4].related_message_id == enquiry
    # Every envelope named by an entry is in that office's store.
    for office, entries in ((HK, hk), (VN, vn)):
        for entry in entries:
            assert entry.envelope_digest in world[office].store


def test_entries_are_metadata_only(world: World) -> None:
    world.send(HK, VN)
    summary = json.loads(ENQUIRY_JSON)["summary"].encode()
    for office in (HK, VN):
        raw = world[office].log_path.read_bytes()
        assert summary[:40] not in raw
        assert b"MPS-10238" not in raw  # the requesting officer's id lives in the content only
