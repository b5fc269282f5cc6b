"""The office's own side: its format (a codec) and how files reach it (a transport).

``[handover]`` in the office's configuration names both (docs/adapters.md, "Hand-over"). A
received enquiry or response is encoded with the codec; when the format cannot carry a field
the adapter marks essential (an attachment in CSV, say), the hand-over is refused rather than
made silently incomplete (``HandoverRefused``); so is a loss of a field the office lists in
``[handover] essential``. Other losses are logged by field name. The transport then hands
the bytes over and confirms.

"canonical" is Liaison's own JSON (docs/messages.md): the format of an office whose system reads
it directly, and the default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from adapters.base import Codec, Decoded, Encoded, load
from adapters.transports import HandOver, Transport
from adapters.transports.spool import SpoolTransport
from broker.config import OfficeConfig
from broker.durable import FileBatch
from broker.envelope import Header, MessageKind
from broker.errors import ConfigError, InputError, LiaisonError, PolicyRefused
from broker.messages import Message, message_from_json
from broker.spool import MAX_MESSAGE_FILE_BYTES

CANONICAL: Final = "canonical"
ESSENTIAL_LOSS_RULE: Final = "handover.essential-field"


class HandoverRefused(PolicyRefused):
    """The office's format cannot carry a field the message needs; ``fields`` names them."""

    def __init__(self, fields: tuple[str, ...], adapter: str) -> None:
        super().__init__(
            ESSENTIAL_LOSS_RULE,
            f"the {adapter} format cannot carry {', '.join(fields)}; not handed over",
        )
        self.fields = fields


class CanonicalCodec:
    """Liaison's canonical JSON as a codec: nothing is lost either way."""

    name: str = CANONICAL
    description: str = "Liaison's canonical JSON (docs/messages.md)"
    suffixes: tuple[str, ...] = (".json",)
    max_input_bytes: int = MAX_MESSAGE_FILE_BYTES

    def encode(self, message: Message, *, variant: str | None = None) -> Encoded:
        del variant  # one form only
        text = message.to_json().rstrip("\n") + "\n"
        return Encoded(text.encode("utf-8"), "application/json", ".json")

    def decode(self, data: bytes, *, suffix: str | None = None) -> Decoded:
        del suffix
        if len(data) > self.max_input_bytes:
            raise InputError(f"larger than {self.max_input_bytes} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text") from None
        return Decoded(message_from_json(text))


def codec_named(name: str) -> Codec:
    """The codec of ``[handover] adapter`` (NotAvailable when none is registered so)."""
    return CanonicalCodec() if name == CANONICAL else load(name)


@dataclass(frozen=True, slots=True)
class Handover:
    """The office's format and transport, ready to hand over."""

    codec: Codec
    transport: Transport
    variant: str | None = None
    essential: tuple[str, ...] = ()  # [handover] essential: dotted paths without indices

    def prepare(self, header: Header, message: Message) -> HandOver:
        """Encode ``message``; HandoverRefused when an essential field would be lost."""
        encoded = self.codec.encode(message, variant=self.variant)
        essential = tuple(
            loss.field
            for loss in encoded.losses
            if loss.essential or _listed(loss.field, self.essential)
        )
        if essential:
            raise HandoverRefused(essential, self.codec.name)
        kind = "enquiry" if header.kind is MessageKind.ENQUIRY else "response"
        return HandOver(header.message_id, kind, header.sender, encoded)

    def deliver(self, handover: HandOver) -> str:
        return self.transport.deliver(handover)


def handover_from_config(
    config: OfficeConfig,
    *,
    read_secret: Callable[[Path], str],
    rng: Callable[[int], bytes] = os.urandom,
    files: FileBatch | None = None,
) -> Handover:
    """Build the office's hand-over from ``[handover]``; ConfigError/NotAvailable naming the
    setting when it cannot be built (checked at start, not at the first message)."""
    section = config.handover
    codec = codec_named(section.adapter)
    transport: Transport
    if section.transport == "http":
        if not section.url:
            raise ConfigError("handover.transport is http, but handover.url is not set")
        from adapters.transports.http_out import HttpTransport  # noqa: PLC0415 - only for http

        transport = HttpTransport.from_config(section, read_secret)
    else:
        transport = SpoolTransport(config.deliver_dir, rng=rng, files=files)
    return Handover(codec, transport, section.variant or None, section.essential)


def _listed(field_path: str, essential: tuple[str, ...]) -> bool:
    """Whether ``places[1].coordinates`` falls under an entry such as ``places.coordinates``
    or ``places``."""
    plain = re.sub(r"\[\d+\]", "", field_path)
    return any(plain == entry or plain.startswith(entry + ".") for entry in essential)


def describe_failure(exc: LiaisonError) -> str:
    """One line for a reason file or the log: our diagnoses hold no case content."""
    return f"{type(exc).__name__}: {exc.diagnosis}"
