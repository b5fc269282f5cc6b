"""How partner-format bytes reach the office's own system, and its files come back.

A *transport* is the second half of an adapter (the codec is the first): the daemon encodes a
received message with the office's codec, then asks the transport to hand the bytes over. A
hand-over is complete only when the transport confirms it (a file is durably in place; the
partner's endpoint answered 2xx); until then the message stays "received" in the inbox and the
daemon tries again later, so nothing is lost and no receipt claims a delivery that did not
happen. Hand-overs are idempotent per message id: a second ``deliver`` of the same message
must not make a second copy on the partner's side (the spool keeps the first file; HTTP sends
the message id as ``Idempotency-Key``).

The way back is one folder, the *pickup* folder (``spool.PickupFolder``): the office's system
drops files there (directly, or through the local HTTP endpoint, which writes them there), and
the daemon decodes, checks and submits each one, then moves it to ``done/`` or ``failed/``
with a reason file beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from adapters.base import Encoded


@dataclass(frozen=True, slots=True)
class HandOver:
    """One received message, encoded for the office's system."""

    message_id: bytes
    kind: str  # "enquiry" or "response"
    sender: str  # the office that sent it (directory id)
    encoded: Encoded = field(repr=False)

    @property
    def file_name(self) -> str:
        """``<message-id hex><suffix>``: unique per message, and safe as a file name."""
        return f"{self.message_id.hex()}{self.encoded.suffix}"


@runtime_checkable
class Transport(Protocol):
    """Hands encoded messages to the office's system."""

    name: str  # "spool", "http"

    def deliver(self, handover: HandOver) -> str:
        """Hand over and return once the other side has it, with a short reference for the
        log (a file name, an HTTP status); TransportError when that is not certain (the
        daemon retries). Never puts content in an exception."""
        ...


__all__ = ["HandOver", "Transport"]
