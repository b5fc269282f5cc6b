"""C2SP signed notes (c2sp.org/signed-note): text signed by one or more named keys.

::

    <text, ending in a newline>
    <blank line>
    — <key name> base64(key ID (4 bytes) || signature)      one line per signature

The text is UTF-8 without control characters other than newline; it is separated from the
signatures by the *last* blank line. An Ed25519 (type 0x01) signature covers the text, final
newline included. Key IDs and verifier keys (``name+hex(key ID)+base64(type || public key)``)
follow the spec and Go's golang.org/x/mod/sumdb/note::

    key ID = SHA-256(key name || 0x0A || type || public key)[:4]

Opening a note ignores signatures from unknown keys, rejects the whole note when a known key's
signature fails, and rejects it when no known key signed. Every malformed input raises
:class:`broker.errors.IntegrityError` with a one-line reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, Protocol

from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.envelope.signing import verify as strict_verify
from broker.errors import IntegrityError

ED25519_TYPE: Final = 0x01  # signed-note, "Ed25519 signatures"
COSIGNATURE_TYPE: Final = 0x04  # tlog-cosignature, timestamped Ed25519
KEY_ID_SIZE: Final = 4
MAX_NOTE_BYTES: Final = 1 << 20  # a checkpoint with 100 cosignatures is about 12 KiB
MAX_SIGNATURES: Final = 100  # the spec asks for at least 16; Go's reader allows 100

SIGNATURE_PREFIX: Final = "\u2014 "  # em dash, space
_HEX8 = re.compile(r"[0-9a-f]{8}")


def b64decode_strict(what: str, text: str) -> bytes:
    """Standard base64 with padding, in its one canonical spelling (no stray bits or characters)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise IntegrityError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise IntegrityError(f"{what} is not canonical base64")
    return raw


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def check_key_name(name: str) -> str:
    """A key name is non-empty, has no Unicode spaces, no plus and no control characters."""
    if not name:
        raise IntegrityError("a key name must not be empty")
    if "+" in name or any(ch.isspace() or ch < " " for ch in name):
        raise IntegrityError(f"key name {name!r} contains a space, a plus or a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise IntegrityError(f"key name {name!r} is not valid UTF-8") from None
    return name


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4]."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return digest[:KEY_ID_SIZE]


def check_note_text(text: str) -> bytes:
    """The UTF-8 bytes of a note text: it ends in a newline and has no other control character."""
    if not text.endswith("\n"):
        raise IntegrityError("a note text must end with a newline")
    if any(ch < " " and ch != "\n" for ch in text):
        raise IntegrityError("a note text must not contain control characters other than newline")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise IntegrityError("a note text must be valid UTF-8") from None


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: the signer's key name and key ID, and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.key_id) != KEY_ID_SIZE:
            raise IntegrityError(f"a key ID is {KEY_ID_SIZE} bytes, not {len(self.key_id)}")
        if not self.signature:
            raise IntegrityError("a signature must not be empty")

    @property
    def key(self) -> str:
        """``name+hex(key ID)``, how messages name a key."""
        return f"{self.name}+{self.key_id.hex()}"

    def line(self) -> str:
        """The signature line, newline included."""
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A note text and its signature lines, verified or not."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        check_note_text(self.text)
        if not 0 < len(self.signatures) <= MAX_SIGNATURES:
            raise IntegrityError(f"a note has 1 to {MAX_SIGNATURES} signatures")

    def encode(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")

    def with_signatures(self, extra: Sequence[NoteSignature]) -> Note:
        """This note with ``extra`` added; an existing line from the same key is replaced."""
        replaced = {s.key for s in extra}
        kept = tuple(s for s in self.signatures if s.key not in replaced)
        return Note(self.text, kept + tuple(extra))


def _parse_signature_line(number: int, line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise IntegrityError(f"signature line {number} does not start with an em dash and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise IntegrityError(f"signature line {number} has no space between name and signature")
    check_key_name(name)
    raw = b64decode_strict(f"signature line {number}", encoded)
    if len(raw) <= KEY_ID_SIZE:
        raise IntegrityError(f"signature line {number} is too short")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def parse_note(data: bytes) -> Note:
    """Parse a signed note strictly, without verifying any signature."""
    if len(data) > MAX_NOTE_BYTES:
        raise IntegrityError(f"a note is at most {MAX_NOTE_BYTES} bytes")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError("note is not valid UTF-8") from None
    if any(ch < " " and ch != "\n" for ch in decoded):
        raise IntegrityError("note contains a control character other than newline")
    split = decoded.rfind("\n\n")
    if split < 0:
        raise IntegrityError("note has no blank line before its signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise IntegrityError("note does not end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise IntegrityError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(i + 1, line) for i, line in enumerate(lines)))


class NoteVerifier(Protocol):
    """Checks signatures by one key: its ``name`` and ``key_id`` select the lines it checks."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    @property
    def vkey(self) -> str: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (key ID removed) is this key's over the note ``text``."""
        ...


@dataclass(frozen=True, slots=True)
class NamedEd25519Key:
    """An Ed25519 public key under a name, for one signature type of the signed-note format."""

    sig_type: ClassVar[int]
    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != 32:
            raise IntegrityError(f"an Ed25519 public key is 32 bytes, not {len(self.public_key)}")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string, ``name+hex(key ID)+base64(type || public key)``."""
        raw = bytes([self.sig_type]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{b64encode(raw)}"


@dataclass(frozen=True, slots=True)
class Ed25519Verifier(NamedEd25519Key):
    """A signed-note Ed25519 (type 0x01) public key under a name."""

    sig_type: ClassVar[int] = ED25519_TYPE

    def verify(self, text: bytes, signature: bytes) -> bool:
        return verify_ed25519(self.public_key, text, signature)


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 under the envelopes' strict rule (docs/envelope.md, section 10): one verifier
    for every signature Liaison checks, so a note cannot pass where an envelope would fail."""
    return strict_verify(public_key, signature, message)


@dataclass(frozen=True, slots=True)
class Ed25519Signer:
    """Signs note texts with an Ed25519 private key under a name (the key is never printed)."""

    name: str
    private_key: ed25519.Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.private_key.public_key().public_bytes_raw())

    def sign(self, text: str) -> NoteSignature:
        """The signature line over ``text`` (a valid note text)."""
        message = check_note_text(text)
        return NoteSignature(self.name, self.verifier().key_id, self.private_key.sign(message))


def sign_note(text: str, signers: Sequence[Ed25519Signer]) -> bytes:
    """A new signed note: ``text`` signed by each signer, in order."""
    return Note(text, tuple(s.sign(text) for s in signers)).encode()


def parse_verifier_key(vkey: str) -> Ed25519Verifier:
    """Parse an Ed25519 verifier key ``name+hex(key ID)+base64(0x01 || key)``, checking its ID.

    Cosigner keys (type 0x04) are read by :func:`broker.ledger.cosignature.parse_cosigner_key`.
    """
    name, sig_type, public_key = split_verifier_key(vkey)
    if sig_type != ED25519_TYPE:
        raise IntegrityError(
            f"verifier key for {name} has type {sig_type:#04x}, not Ed25519 (0x01)"
        )
    return Ed25519Verifier(name, public_key)


def split_verifier_key(vkey: str) -> tuple[str, int, bytes]:
    """(name, signature type, public key) of a verifier key string, its key ID checked."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise IntegrityError("a verifier key is name+keyid+key")
    name, hex_id, encoded = parts
    check_key_name(name)
    if not _HEX8.fullmatch(hex_id):
        raise IntegrityError(f"verifier key for {name}: the key ID is not 8 lowercase hex digits")
    raw = b64decode_strict(f"verifier key for {name}", encoded)
    if len(raw) != 33:
        raise IntegrityError(f"verifier key for {name}: the key is {len(raw)} bytes, not 33")
    if key_id(name, raw[0], raw[1:]).hex() != hex_id:
        raise IntegrityError(f"verifier key for {name}: the key ID does not match the key")
    return name, raw[0], raw[1:]


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose signatures were checked: ``verified`` lists those by known keys."""

    note: Note
    verified: tuple[NoteSignature, ...]

    @property
    def text(self) -> str:
        return self.note.text

    def verified_by(self, verifier: NoteVerifier) -> bool:
        return any(s.name == verifier.name and s.key_id == verifier.key_id for s in self.verified)


def open_note(data: bytes, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Parse ``data`` and check every signature by a known key; at least one must be good."""
    note = parse_note(data)
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        if (v.name, v.key_id) in known:
            raise IntegrityError(
                f"two trusted keys share the name and key ID {v.name}+{v.key_id.hex()}"
            )
        known[(v.name, v.key_id)] = v
    text = note.text.encode("utf-8")
    verified: list[NoteSignature] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue  # unknown keys are ignored, even if they share a name or an ID with ours
        if not verifier.verify(text, sig.signature):
            raise IntegrityError(f"bad signature by key {sig.key}")
        if all(v.key != sig.key for v in verified):
            verified.append(sig)
    if not verified:
        signers = ", ".join(sorted({s.key for s in note.signatures}))
        raise IntegrityError(f"unknown key: no signature by a trusted key (signed by {signers})")
    return OpenedNote(note, tuple(verified))
