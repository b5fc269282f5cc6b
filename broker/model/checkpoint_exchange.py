"""CheckpointExchange: what one office's daemon tells another about their exchange logs.

The payload of a CHECKPOINT envelope (docs/exchange-log.md, "Checkpoint exchange"): the sender's
latest signed checkpoint with a consistency proof, and/or a checkpoint of the recipient's log
that the sender cosigned. This class checks the form only (sizes, lengths); what the notes say
and whether they verify is :mod:`broker.daemon.witness`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from broker.errors import InvalidMessage
from broker.model import _checks as check
from broker.model import _wire
from broker.pb import log_pb2

MAX_NOTE_BYTES: Final = 64 * 1024  # a checkpoint with 100 cosignatures is about 12 KiB
MAX_PROOF_HASHES: Final = 64  # a consistency proof in a tree of 2^63 entries has at most 63
HASH_LEN: Final = 32
MAX_SIZE: Final = 2**63 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointExchange:
    """A validated ``liaison.v1.CheckpointExchange``: at least one of ``checkpoint`` and
    ``cosigned``; a proof only beside a checkpoint."""

    office: str  # the sending office: the envelope's sender
    checkpoint: bytes = field(default=b"", repr=False)  # the sender's signed checkpoint note
    proof_from: int = 0
    consistency_proof: tuple[bytes, ...] = field(default=(), repr=False)
    cosigned: bytes = field(default=b"", repr=False)  # the recipient's checkpoint, cosigned

    def __post_init__(self) -> None:
        check.office_id("office", self.office)
        for name in ("checkpoint", "cosigned"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) > MAX_NOTE_BYTES:
                raise InvalidMessage(name, f"must be at most {MAX_NOTE_BYTES} bytes")
        if not self.checkpoint and not self.cosigned:
            raise InvalidMessage("checkpoint", "a checkpoint or a cosigned checkpoint is required")
        check.integer("proof_from", self.proof_from, 0, MAX_SIZE)
        object.__setattr__(self, "consistency_proof", tuple(self.consistency_proof))
        if len(self.consistency_proof) > MAX_PROOF_HASHES:
            raise InvalidMessage("consistency_proof", f"has at most {MAX_PROOF_HASHES} hashes")
        for i, value in enumerate(self.consistency_proof):
            if not isinstance(value, bytes) or len(value) != HASH_LEN:
                raise InvalidMessage(f"consistency_proof[{i}]", f"must be {HASH_LEN} bytes")
        if not self.checkpoint and (self.proof_from or self.consistency_proof):
            raise InvalidMessage("proof_from", "a proof needs the checkpoint it leads to")

    def to_proto(self) -> log_pb2.CheckpointExchange:
        return log_pb2.CheckpointExchange(
            office=self.office,
            checkpoint=self.checkpoint,
            proof_from=self.proof_from,
            consistency_proof=list(self.consistency_proof),
            cosigned=self.cosigned,
        )

    @classmethod
    def from_proto(cls, msg: log_pb2.CheckpointExchange) -> CheckpointExchange:
        return cls(
            office=msg.office,
            checkpoint=msg.checkpoint,
            proof_from=msg.proof_from,
            consistency_proof=tuple(msg.consistency_proof),
            cosigned=msg.cosigned,
        )

    def to_bytes(self) -> bytes:
        """Deterministic protobuf encoding."""
        return _wire.to_bytes(self.to_proto())

    @classmethod
    def from_bytes(cls, data: bytes) -> CheckpointExchange:
        return cls.from_proto(_wire.from_bytes(log_pb2.CheckpointExchange, data))

    def to_json(self) -> str:
        """The proto3 JSON mapping with proto field names, indented."""
        return _wire.to_json(self.to_proto())

    @classmethod
    def from_json(cls, text: str) -> CheckpointExchange:
        return cls.from_proto(_wire.from_json(log_pb2.CheckpointExchange, text))
