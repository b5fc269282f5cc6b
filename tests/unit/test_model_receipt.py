"""Receipt: sizes, status and reject reason, round trips."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable

import pytest

from broker.errors import InvalidMessage, RejectReason
from broker.model import Receipt, ReceiptStatus
from broker.pb import receipt_pb2

RECEIVED = dt.datetime(2025, 3, 9, 10, 1, 2, 345_678, tzinfo=dt.UTC)


def accepted() -> Receipt:
    return Receipt(
        message_id=bytes.fromhex("7c1f0e5a9b3d4c2e8f6a1b0c9d8e7f60"),
        envelope_digest=hashlib.sha256(b"the envelope bytes").digest(),
        status=ReceiptStatus.ACCEPTED,
        receiving_office="VN-BCA-C02",
        received_at=RECEIVED,
    )


def rejects(path: str, build: Callable[[], object]) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        build()
    assert info.value.field == path, info.value.diagnosis
    return info.value


def test_receipts_round_trip_through_bytes_and_json() -> None:
    rejected = dataclasses.replace(
        accepted(), status=ReceiptStatus.REJECTED, reject_reason=RejectReason.BAD_SIGNATURE
    )
    for value in (accepted(), rejected):
        assert Receipt.from_bytes(value.to_bytes()) == value
        assert Receipt.from_json(value.to_json()) == value
    assert '"reject_reason": "bad-signature"' in rejected.to_json()
    assert '"received_at": "2025-03-09T10:01:02.345678Z"' in rejected.to_json()


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("message_id", {"message_id": bytes(15)}),
        ("message_id", {"message_id": "7c1f0e5a9b3d4c2e8f6a1b0c9d8e7f60"}),
        ("envelope_digest", {"envelope_digest": bytes(33)}),
        ("status", {"status": 2}),
        ("reject_reason", {"reject_reason": RejectReason.REPLAY}),
        ("reject_reason", {"status": ReceiptStatus.REJECTED}),
        ("reject_reason", {"status": ReceiptStatus.REJECTED, "reject_reason": "replay"}),
        ("receiving_office", {"receiving_office": "VN"}),
        ("received_at", {"received_at": dt.datetime(2025, 3, 9)}),  # noqa: DTZ001
    ],
)
def test_receipt_rules(path: str, changes: dict[str, object]) -> None:
    rejects(path, lambda: dataclasses.replace(accepted(), **changes))  # type: ignore[arg-type]


def test_decoding_refuses_unknown_reject_codes_and_missing_times() -> None:
    msg = dataclasses.replace(
        accepted(), status=ReceiptStatus.REJECTED, reject_reason=RejectReason.OVERSIZE
    ).to_proto()
    msg.reject_reason = "too-big"
    rejects("reject_reason", lambda: Receipt.from_proto(msg))
    msg = accepted().to_proto()
    msg.ClearField("received_at")
    rejects("received_at", lambda: Receipt.from_proto(msg))
    msg = accepted().to_proto()
    msg.status = 0  # type: ignore[assignment]
    rejects("status", lambda: Receipt.from_proto(msg))
    assert Receipt.from_proto(receipt_pb2.Receipt.FromString(accepted().to_bytes())) == accepted()
