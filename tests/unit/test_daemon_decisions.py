"""The daemon's decision core: what it does with each delivery, driven by real sealed envelopes
under the DEMO directory, and what an accepted message changes."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Container
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broker.daemon import (
    Accepted,
    Arrival,
    Context,
    Duplicate,
    Rejected,
    examine,
    plan_acceptance,
    receipt_for,
    rejection_entry,
)
from broker.directory import TrustState, accept_directory, decode_root
from broker.envelope import Limits, MessageKind, peek_header, seal
from broker.errors import RejectReason
from broker.exchange_log import EventType
from broker.letters import seal_message
from broker.messages import Message
from broker.model import CaseEnquiry, CaseResponse, EnquiryType, Receipt, ReceiptStatus, new_id
from broker.office_store import InboxRow, InboxState, RejectedRow
from broker.topology import routing_key
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DIRECTORY = accept_directory(
    DIRECTORY_FILE.read_bytes(), TrustState.pinned(decode_root(ROOT_FILE.read_bytes())), now=NOW
).directory
HK, VN, LA = "CN-YN-BLO-HK", "VN-BCA-C02", "LA-MOPS-ATD"
KEYS = {office: make.demo_keys(office) for office in (HK, VN, LA)}
PREFIX = "t1-"
VN_CONTEXT = Context(VN, KEYS[VN], DIRECTORY, Limits(), PREFIX)


class Known:
    """The store's answers, in memory."""

    def __init__(self) -> None:
        self.inbox: dict[bytes, InboxRow] = {}
        self.rejections: dict[bytes, RejectedRow] = {}

    def received(self, message_id: bytes) -> InboxRow | None:
        return self.inbox.get(message_id)

    def rejected(self, message_id: bytes) -> RejectedRow | None:
        return self.rejections.get(message_id)

    def seen(self) -> Container[bytes]:
        return self.inbox.keys() | self.rejections.keys()

    def accept(self, body: bytes) -> None:
        header = peek_header(body)
        self.inbox[header.message_id] = InboxRow(
            message_id=header.message_id,
            sender=header.sender,
            kind=header.kind,
            digest=hashlib.sha256(body).digest(),
            envelope=body,
            created_at=header.created_at,
            expires_at=header.expires_at,
            received_at=NOW,
            handed_over_at=NOW,
            state=InboxState.HANDED_OVER,
            enquiry_id="",
            case_ref="",
            due_at=None,
            related_message_id=b"",
            receipt_message_id=b"r" * 16,
            answered_by=b"",
            answered_at=None,
        )


def enquiry(recipients: tuple[str, ...] = (VN,), **changes: Any) -> CaseEnquiry:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    return dataclasses.replace(
        alert,
        enquiry_id=new_id(),
        recipient_offices=recipients,
        **changes,
    )


def sealed(message: Message, *, sender: str = HK, now: datetime = NOW, **kwargs: Any) -> bytes:
    return seal_message(
        message,
        sender=KEYS[sender],
        directory=DIRECTORY,
        now=now,
        **kwargs,
    )


def arrival(body: bytes, *, sender: str = HK, to: str = VN, user: str | None = "") -> Arrival:
    return Arrival(body, routing_key(sender, to), PREFIX + sender.lower() if user == "" else user)


def rejected(verdict: object) -> Rejected:
    assert isinstance(verdict, Rejected), verdict
    return verdict


def test_a_valid_enquiry_is_accepted_and_planned() -> None:
    asked = enquiry()
    body = sealed(asked)
    verdict = examine(arrival(body), VN_CONTEXT, Known(), now=NOW)
    assert isinstance(verdict, Accepted)
    plan = plan_acceptance(verdict, body, now=NOW, enquiry_message_id=None)
    assert (plan.hand_over, plan.receipted) == (True, True)
    assert plan.incoming.enquiry_id == asked.enquiry_id
    assert plan.incoming.due_at == asked.response_due
    assert plan.incoming.envelope == body  # ciphertext, as received
    [received] = plan.entries
    assert (received.event, received.sender, received.case_ref) == (
        EventType.RECEIVED, HK, asked.case_reference,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("make_arrival", "reason"),
    [
        (lambda b: arrival(b, user=None), "no-user-id"),
        (lambda b: arrival(b, user="t1-la-mops-atd"), "wrong-route"),  # another publisher
        (lambda b: arrival(b, user="cn-yn-blo-hk"), "wrong-route"),  # not a user of this site
        (lambda b: Arrival(b, routing_key(HK, LA), "t1-cn-yn-blo-hk"), "wrong-route"),  # a CC
        (lambda b: Arrival(b, "inbox.vn-bca-c02", "t1-cn-yn-blo-hk"), "wrong-route"),
    ],
)
def test_the_transport_must_name_the_publisher_and_us(
    make_arrival: Callable[[bytes], Arrival], reason: str
) -> None:
    verdict = rejected(examine(make_arrival(sealed(enquiry())), VN_CONTEXT, Known(), now=NOW))
    assert verdict.reason == reason
    assert verdict.header is not None  # peeked, for the log
    assert not verdict.authentic
    assert not verdict.receipt_due


def test_junk_and_oversize_are_refused_before_parsing() -> None:
    junk = rejected(examine(arrival(b"\x00junk"), VN_CONTEXT, Known(), now=NOW))
    assert (junk.reason, junk.header, junk.peer_reason) == (
        "malformed",
        None,
        RejectReason.MALFORMED,
    )
    assert junk.digest == hashlib.sha256(b"\x00junk").digest()
    small = dataclasses.replace(VN_CONTEXT, limits=Limits(max_envelope_bytes=1000))
    big = rejected(examine(arrival(sealed(enquiry())), small, Known(), now=NOW))
    assert big.reason == "oversize"
    assert not big.receipt_due


def test_an_envelope_signed_by_another_office_than_the_publisher_is_refused() -> None:
    forged = sealed(enquiry(requesting_office=LA), sender=LA)
    verdict = rejected(examine(arrival(forged), VN_CONTEXT, Known(), now=NOW))
    assert verdict.reason == "sender-mismatch"
    assert not verdict.receipt_due


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (lambda: sealed(enquiry(), now=NOW - timedelta(days=9)), "expired"),
        (lambda: sealed(enquiry(), now=NOW + timedelta(hours=1)), "from-the-future"),
        (lambda: sealed(enquiry((LA,))), "not-a-recipient"),
        (
            lambda: seal(
                enquiry(enquiry_type=EnquiryType.DNA_REFERENCE_MATCH).to_bytes(),
                kind=MessageKind.ENQUIRY,
                sender=KEYS[HK],
                recipients=[DIRECTORY.recipient(VN, NOW)],
                directory_version=DIRECTORY.version,
                now=NOW,
            ),
            "policy",
        ),
    ],
)
def test_authentic_refusals_are_remembered_and_answered(
    body: Callable[[], bytes], reason: str
) -> None:
    verdict = rejected(examine(arrival(body()), VN_CONTEXT, Known(), now=NOW))
    assert verdict.reason == reason
    assert verdict.authentic
    assert verdict.receipt_due
    assert verdict.remembered
    assert verdict.peer_reason is RejectReason(reason)


def test_a_tampered_envelope_is_not_answered() -> None:
    body = bytearray(sealed(enquiry()))
    body[-70] ^= 1  # inside the ciphertext or the signature: the signature fails
    verdict = rejected(examine(arrival(bytes(body)), VN_CONTEXT, Known(), now=NOW))
    assert verdict.reason == "bad-signature"
    assert not verdict.authentic
    assert not verdict.receipt_due
    assert not verdict.remembered


def test_the_same_bytes_again_are_a_duplicate_until_they_expire() -> None:
    known, body = Known(), sealed(enquiry())
    known.accept(body)
    verdict = examine(arrival(body), VN_CONTEXT, known, now=NOW)
    assert isinstance(verdict, Duplicate)
    assert verdict.row.message_id == peek_header(body).message_id
    late = rejected(examine(arrival(body), VN_CONTEXT, known, now=NOW + timedelta(days=8)))
    assert late.reason == "expired"
    assert late.accepted_before
    assert not late.receipt_due  # its DELIVERED receipt stands
    assert not late.remembered


def test_other_bytes_under_an_accepted_id_are_a_replay() -> None:
    known, body = Known(), sealed(enquiry())
    known.accept(body)
    header = peek_header(body)
    known.inbox[header.message_id] = dataclasses.replace(
        known.inbox[header.message_id], digest=bytes(32)
    )
    verdict = rejected(examine(arrival(body), VN_CONTEXT, known, now=NOW))
    assert verdict.reason == "replay"
    assert not verdict.receipt_due


def test_bytes_rejected_before_are_a_repeat() -> None:
    known, body = Known(), sealed(enquiry(), now=NOW - timedelta(days=9))
    header = peek_header(body)
    row = RejectedRow(header.message_id, hashlib.sha256(body).digest(), HK, "expired", b"x" * 16)
    known.rejections[header.message_id] = row
    verdict = rejected(examine(arrival(body), VN_CONTEXT, known, now=NOW))
    assert (verdict.repeat, verdict.reason) == (row, "expired")
    assert not verdict.receipt_due
    assert not verdict.remembered


def test_receipts_are_never_receipted() -> None:
    receipt = Receipt(
        message_id=b"m" * 16,
        envelope_digest=b"d" * 32,
        status=ReceiptStatus.DELIVERED,
        receiving_office=HK,
        received_at=NOW,
    )
    old = sealed(receipt, to=[VN], now=NOW - timedelta(days=9))
    verdict = rejected(examine(arrival(old), VN_CONTEXT, Known(), now=NOW))
    assert verdict.authentic
    assert not verdict.receipt_due


def test_a_response_answers_our_enquiry_when_we_know_it() -> None:
    answer = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    body = sealed(answer, sender=VN, to=[HK])
    context = dataclasses.replace(VN_CONTEXT, office_id=HK, keys=KEYS[HK])
    verdict = examine(arrival(body, sender=VN, to=HK), context, Known(), now=NOW)
    assert isinstance(verdict, Accepted)
    plan = plan_acceptance(verdict, body, now=NOW, enquiry_message_id=b"e" * 16)
    assert plan.answers == b"e" * 16
    assert [e.event for e in plan.entries] == [EventType.RECEIVED, EventType.RESPONSE_RECEIVED]
    assert plan.entries[1].related_message_id == b"e" * 16
    unknown = plan_acceptance(verdict, body, now=NOW, enquiry_message_id=None)
    assert (unknown.answers, len(unknown.entries), unknown.hand_over) == (None, 1, True)


@pytest.mark.parametrize(("reason", "expected"), [(None, ""), (RejectReason.POLICY, "policy")])
def test_a_receipt_updates_the_delivery_it_acknowledges(
    reason: RejectReason | None, expected: str
) -> None:
    acked = peek_header(sealed(enquiry()))
    receipt = receipt_for(acked, b"d" * 32, office_id=VN, now=NOW, reason=reason)
    body = sealed(receipt, sender=VN, to=[HK])
    context = dataclasses.replace(VN_CONTEXT, office_id=HK, keys=KEYS[HK])
    verdict = examine(arrival(body, sender=VN, to=HK), context, Known(), now=NOW)
    assert isinstance(verdict, Accepted)
    plan = plan_acceptance(verdict, body, now=NOW, enquiry_message_id=None)
    assert (plan.hand_over, plan.receipted) == (False, False)
    assert plan.incoming.state is InboxState.NOTED
    effect = plan.receipt_effect
    assert effect is not None
    assert (effect.message_id, effect.recipient, effect.rejected_reason) == (
        acked.message_id, VN, expected,
    )  # fmt: skip
    noted = plan.entries[1]
    assert (noted.event, noted.related_message_id, noted.reason) == (
        EventType.RECEIPT_RECEIVED, acked.message_id, expected,
    )  # fmt: skip


def test_rejection_entries_name_what_is_known() -> None:
    body = sealed(enquiry(), now=NOW - timedelta(days=9))
    verdict = rejected(examine(arrival(body), VN_CONTEXT, Known(), now=NOW))
    entry = rejection_entry(verdict, now=NOW)
    assert (entry.event, entry.reason, entry.sender) == (EventType.REJECTED, "expired", HK)
    assert entry.message_id == peek_header(body).message_id
    junk = rejected(examine(arrival(b"junk"), VN_CONTEXT, Known(), now=NOW))
    bare = rejection_entry(junk, now=NOW)
    assert (bare.message_id, bare.envelope_digest) == (b"", hashlib.sha256(b"junk").digest())
