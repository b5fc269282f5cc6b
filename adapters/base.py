"""What every partner-format adapter provides: a pure codec, and how it is found.

A codec turns a canonical message (``broker.model``: CaseEnquiry, CaseResponse, Receipt) into
the partner's bytes and back. It never does I/O and never guesses: what the partner format
cannot carry is either placed in a documented extension place or reported as a ``Loss``, so the
daemon can refuse to hand over silently when a lost field is essential.

Codecs are registered under the Python entry-point group ``liaison.adapters`` (pyproject.toml),
so a third party can ship one without touching this repository::

    [project.entry-points."liaison.adapters"]
    myformat = "mypackage.myformat:CODEC"

A partner's file that cannot be decoded is the partner's fault: ``decode`` raises
:class:`AdapterInputError` (an InputError, exit 5) whose message names the place in the file
(``row 4, column phone``; ``/Message/Entities/Person[2]/DateOfBirth``) and never quotes content.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from broker.errors import InputError, NotAvailable
from broker.messages import Message

ENTRY_POINT_GROUP = "liaison.adapters"


class AdapterInputError(InputError):
    """A partner file is invalid, hostile or too large; ``where`` locates the fault."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where


@dataclass(frozen=True, slots=True)
class Loss:
    """A canonical field the partner format cannot carry (``field`` is its dotted path)."""

    field: str
    reason: str
    # Whether the message means something else without it (policy may refuse the hand-over).
    essential: bool = False


@dataclass(frozen=True, slots=True)
class Encoded:
    """A message in the partner's format, with what did not fit."""

    data: bytes
    media_type: str
    suffix: str  # the file name suffix, with its dot: ".xml", ".xlsx", ".csv", ".json"
    losses: tuple[Loss, ...] = ()


@dataclass(frozen=True, slots=True)
class Decoded:
    """A partner's file as a canonical message, with what it could not express and any
    warnings a person should see (e.g. a formula-like cell, Zawgyi text converted)."""

    message: Message
    losses: tuple[Loss, ...] = ()
    warnings: tuple[str, ...] = ()


@runtime_checkable
class Codec(Protocol):
    """One partner format, both directions. Pure: bytes and values only."""

    name: str  # the registry name: "umf", "sheet", "json"
    description: str  # one line for `liaison adapters list`
    suffixes: tuple[str, ...]  # file suffixes it reads, e.g. (".xlsx", ".csv")
    max_input_bytes: int  # larger input is refused before parsing

    def encode(self, message: Message, *, variant: str | None = None) -> Encoded:
        """The partner's bytes for ``message``; ``variant`` picks among the format's forms
        (e.g. "xlsx" or "csv" for the sheet), None for its default."""
        ...

    def decode(self, data: bytes, *, suffix: str | None = None) -> Decoded:
        """The canonical message in a partner's file; AdapterInputError if it is not valid."""
        ...


def available() -> dict[str, str]:
    """Registered adapter names and where each comes from (without importing them)."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load(name: str) -> Codec:
    """The codec registered as ``name``; NotAvailable if there is none or it fails to load."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = ", ".join(sorted(available())) or "none"
        raise NotAvailable(f"no adapter named {name!r} (registered: {known})")
    try:
        codec = found[0].load()
    except Exception as exc:  # noqa: BLE001 - a third party's broken plugin must not crash us
        raise NotAvailable(
            f"adapter {name!r} ({found[0].value}) failed to load: {type(exc).__name__}"
        ) from None
    if not isinstance(codec, Codec):
        raise NotAvailable(f"adapter {name!r} ({found[0].value}) is not a codec")
    return codec
