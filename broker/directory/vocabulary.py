"""The closed vocabularies and identifier syntaxes of the directory (docs/directory.md, "Values").

Every name here appears in the TOML source and in diagnostics; the wire carries the proto enums
(EnquiryType, Handling, Priority, KeyUse) or these exact strings (data categories, revocation
reasons, suites).
"""

from __future__ import annotations

import enum
import re
from typing import Final

from broker.keys.model import KeyAlg
from broker.model.codes import EnquiryType, Handling, Priority

OFFICE_ID: Final = re.compile(r"[A-Z]{2}(-[A-Z0-9]{2,10}){1,4}")  # as broker.config.OFFICE_ID
AGREEMENT_ID: Final = re.compile(r"[A-Z0-9]{1,16}(-[A-Z0-9]{1,16}){0,5}")
LANGUAGE_TAG: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}")  # BCP 47, well-formed
TIME_ZONE: Final = re.compile(r"UTC|[A-Z][A-Za-z_-]{1,30}(/[A-Za-z0-9_+-]{1,30}){1,2}")  # IANA
ADMIN_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ADAPTER_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,31}")
SETTING_NAME: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
ROUTING_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")

MAX_TEXT_CHARS: Final = 200  # titles, names, issuer, urgent contact
MAX_SETTING_CHARS: Final = 1000
# A single line of text: no control characters, nor the Unicode line and paragraph separators.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class KeyUse(enum.Enum):
    """What an office key is for; the value is the proto ``KeyUse`` number."""

    SIGNING = 1
    ENCRYPTION = 2
    HYBRID = 3

    @property
    def label(self) -> str:
        """The name in the TOML source and in diagnostics: signing, encryption, hybrid."""
        return self.name.lower()

    @property
    def alg(self) -> KeyAlg:
        return _ALGS[self]

    @property
    def public_key_len(self) -> int:
        return 1216 if self is KeyUse.HYBRID else 32


_ALGS: Final = {
    KeyUse.SIGNING: KeyAlg.ED25519,
    KeyUse.ENCRYPTION: KeyAlg.X25519,
    KeyUse.HYBRID: KeyAlg.MLKEM768_X25519,
}


class DataCategory(enum.StrEnum):
    """Sensitive kinds of data an agreement must allow explicitly (an enquiry type may imply one:
    broker.policy.IMPLIED_CATEGORIES)."""

    DNA_REFERENCE = "dna-reference"  # DNA reference numbers (never raw profiles)
    COMMUNICATIONS_DATA = "communications-data"  # phone and account subscriber data
    FINANCIAL = "financial"  # bank accounts, transfers
    BIOMETRIC = "biometric"  # face photographs, fingerprints
    HEALTH = "health"  # medical information on victims


class RevocationReason(enum.StrEnum):
    """Why a key was revoked."""

    KEY_COMPROMISE = "key-compromise"  # the private key may be known to someone else
    SUPERSEDED = "superseded"  # replaced early, not compromised
    OFFICE_CLOSED = "office-closed"
    ADMINISTRATIVE = "administrative"  # any other decision of the administrators


def kebab(name: str) -> str:
    return name.lower().replace("_", "-")


ENQUIRY_TYPES: Final = {kebab(member.name): member for member in EnquiryType}
HANDLING_CODES: Final = {member.name: member for member in Handling}
PRIORITIES: Final = {kebab(member.name): member for member in Priority}


def enquiry_type_name(value: EnquiryType) -> str:
    """``EnquiryType.DNA_REFERENCE_MATCH`` -> ``"dna-reference-match"``."""
    return kebab(value.name)


def priority_name(value: Priority) -> str:
    return kebab(value.name)


def single_line(value: str, *, limit: int = MAX_TEXT_CHARS) -> str | None:
    """A problem with ``value`` as one line of display text, or None when it is fine."""
    if not value.strip():
        return "must not be empty"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if _CONTROL.search(value):
        return "must be a single line without control characters"
    if value != value.strip():
        return "must not start or end with white space"
    return None


def matches(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None
