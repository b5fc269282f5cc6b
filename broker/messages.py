"""Which canonical message travels as which envelope kind, and turning payloads back into values.

Pure glue between broker.model (the messages) and broker.envelope (the bytes that carry them). A
payload that does not decode as the message its envelope's kind announces is a peer's fault, so
it becomes ``PeerError(malformed)`` here; the same fault in a file the user gave is an InputError.
"""

from __future__ import annotations

import json

from broker.envelope import MessageKind
from broker.errors import InputError, InvalidMessage, PeerError, RejectReason
from broker.model import CaseEnquiry, CaseResponse, Receipt
from broker.model.checkpoint_exchange import CheckpointExchange

Message = CaseEnquiry | CaseResponse | Receipt | CheckpointExchange

_CLASSES: dict[
    MessageKind,
    type[CaseEnquiry] | type[CaseResponse] | type[Receipt] | type[CheckpointExchange],
] = {
    MessageKind.ENQUIRY: CaseEnquiry,
    MessageKind.RESPONSE: CaseResponse,
    MessageKind.RECEIPT: Receipt,
    MessageKind.CHECKPOINT: CheckpointExchange,  # between daemons: never typed in as JSON
}
# A field only one of the messages has, to tell them apart in a JSON file.
_MARKERS = (
    ("enquiry_type", MessageKind.ENQUIRY),
    ("response_id", MessageKind.RESPONSE),
    ("envelope_digest", MessageKind.RECEIPT),
)
KIND_NAMES = {"enquiry": MessageKind.ENQUIRY, "response": MessageKind.RESPONSE,
              "receipt": MessageKind.RECEIPT}  # fmt: skip


def kind_of(message: Message) -> MessageKind:
    """The envelope kind that carries ``message``."""
    for kind, cls in _CLASSES.items():
        if isinstance(message, cls):
            return kind
    raise InputError(f"{type(message).__name__} is not a message Liaison carries")


def decode_payload(kind: MessageKind, payload: bytes) -> Message:
    """The message in an opened envelope's payload; a peer's malformed payload is a PeerError."""
    cls = _CLASSES.get(kind)
    if cls is None:
        raise PeerError(RejectReason.MALFORMED, f"no canonical message for kind {kind.name}")
    try:
        return cls.from_bytes(payload)
    except InvalidMessage as exc:
        raise PeerError(
            RejectReason.MALFORMED,
            f"payload is not a valid {cls.__name__} ({exc.field or 'bytes'})",
        ) from None


def message_from_json(text: str, kind: MessageKind | None = None) -> Message:
    """Parse a message the user wrote as canonical JSON; the kind is inferred unless given."""
    if kind is None:
        try:
            fields = json.loads(text)
        except (ValueError, RecursionError):  # ValueError: also an integer of 4,300+ digits
            raise InputError("not valid JSON") from None
        if not isinstance(fields, dict):
            raise InputError("a message is a JSON object")
        found = [k for marker, k in _MARKERS if marker in fields or _camel(marker) in fields]
        if len(found) != 1:
            raise InputError(
                "cannot tell which message this is (enquiry, response or receipt); give --kind"
            )
        kind = found[0]
    return _CLASSES[kind].from_json(text)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
