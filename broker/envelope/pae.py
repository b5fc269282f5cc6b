"""Pre-authentication encoding: an unambiguous concatenation of byte strings (DSSE/PASETO style).

::

    PAE(p1, ..., pn) = u64be(n) || u64be(len(p1)) || p1 || ... || u64be(len(pn)) || pn

``u64be`` is an unsigned 64-bit big-endian integer. Every part is length-prefixed and the part
count comes first, so no two different lists of parts encode to the same bytes. The same
encoding builds the signed input and the HPKE ``info`` (docs/envelope.md, "PAE").
"""

from __future__ import annotations

from broker.envelope.labels import SIGNATURE_LABEL, WRAP_LABEL


def _u64be(n: int) -> bytes:
    return n.to_bytes(8, "big")


def pae(*parts: bytes) -> bytes:
    """The pre-authentication encoding of ``parts`` (see the module docstring)."""
    out = [_u64be(len(parts))]
    for part in parts:
        out.append(_u64be(len(part)))
        out.append(part)
    return b"".join(out)


# The fixed leading parts of the two PAEs below, encoded once: PAE(p1, ..., pn) is
# u64be(n) || u64be(len(p1)) || p1 || ..., so a constant count and first part give a constant
# prefix, and the rest is appended part by part exactly as ``pae`` would.
_SIGNED_INPUT_PREFIX = _u64be(3) + _u64be(len(SIGNATURE_LABEL)) + SIGNATURE_LABEL
_WRAP_INFO_PREFIX = _u64be(5) + _u64be(len(WRAP_LABEL)) + WRAP_LABEL


def signed_input(header: bytes, ciphertext: bytes) -> bytes:
    """The bytes the sender's Ed25519 key signs: ``pae(SIGNATURE_LABEL, header, ciphertext)``."""
    return b"".join(
        (_SIGNED_INPUT_PREFIX, _u64be(len(header)), header, _u64be(len(ciphertext)), ciphertext)
    )


def wrap_info(suite: str, message_id: bytes, sender: str, recipient: str) -> bytes:
    """The HPKE ``info`` that binds one wrapped CEK to its message, sender and recipient:
    ``pae(WRAP_LABEL, suite, message_id, sender, recipient)``, strings as UTF-8."""
    out = [_WRAP_INFO_PREFIX]
    for part in (suite.encode(), message_id, sender.encode(), recipient.encode()):
        out.append(_u64be(len(part)))
        out.append(part)
    return b"".join(out)
