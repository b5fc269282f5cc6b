"""Receipt: a receiving office acknowledges one envelope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from broker.errors import InvalidMessage, RejectReason
from broker.model import _checks as check
from broker.model import _convert as convert
from broker.model import _wire
from broker.model.codes import ReceiptStatus
from broker.pb import receipt_pb2

MESSAGE_ID_LEN = 16
DIGEST_LEN = 32  # SHA-256


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """A validated ``liaison.v1.Receipt``; ``reject_reason`` is set exactly for REJECTED."""

    message_id: bytes  # 16 bytes: the acknowledged envelope's message id
    envelope_digest: bytes  # SHA-256 of the acknowledged envelope's bytes
    status: ReceiptStatus
    reject_reason: RejectReason | None = None
    receiving_office: str
    received_at: dt.datetime  # aware; stored in UTC

    def __post_init__(self) -> None:
        for name, size in (("message_id", MESSAGE_ID_LEN), ("envelope_digest", DIGEST_LEN)):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != size:
                raise InvalidMessage(name, f"must be {size} bytes")
        check.enum_member("status", self.status, ReceiptStatus)
        if self.status is ReceiptStatus.REJECTED:
            check.instance("reject_reason", self.reject_reason, RejectReason)
        elif self.reject_reason is not None:
            raise InvalidMessage("reject_reason", f"must be absent with status {self.status.name}")
        check.office_id("receiving_office", self.receiving_office)
        object.__setattr__(self, "received_at", check.aware_utc("received_at", self.received_at))

    def to_proto(self) -> receipt_pb2.Receipt:
        return receipt_pb2.Receipt(
            message_id=self.message_id,
            envelope_digest=self.envelope_digest,
            status=receipt_pb2.ReceiptStatus.ValueType(self.status.value),
            reject_reason="" if self.reject_reason is None else self.reject_reason.value,
            receiving_office=self.receiving_office,
            received_at=convert.timestamp_to_pb(self.received_at),
        )

    @classmethod
    def from_proto(cls, msg: receipt_pb2.Receipt) -> Receipt:
        if not msg.HasField("received_at"):
            raise InvalidMessage("received_at", "is required")
        reason = None
        if msg.reject_reason:
            try:
                reason = RejectReason(msg.reject_reason)
            except ValueError:
                raise InvalidMessage("reject_reason", "is not a known reject code") from None
        return cls(
            message_id=msg.message_id,
            envelope_digest=msg.envelope_digest,
            status=convert.enum_from_pb("status", msg.status, ReceiptStatus),
            reject_reason=reason,
            receiving_office=msg.receiving_office,
            received_at=convert.timestamp_from_pb("received_at", msg.received_at),
        )

    def to_bytes(self) -> bytes:
        """Deterministic protobuf encoding."""
        return _wire.to_bytes(self.to_proto())

    @classmethod
    def from_bytes(cls, data: bytes) -> Receipt:
        return cls.from_proto(_wire.from_bytes(receipt_pb2.Receipt, data))

    def to_json(self) -> str:
        """The proto3 JSON mapping with proto field names, indented."""
        return _wire.to_json(self.to_proto())

    @classmethod
    def from_json(cls, text: str) -> Receipt:
        return cls.from_proto(_wire.from_json(receipt_pb2.Receipt, text))
