"""Every error Liaison raises, in one tree split by where the fault lies.

::

    LiaisonError                      base; .diagnosis (one line), .exit_code
    ├── LocalError                    our side: configuration, key files, the user's input, policy
    │   ├── ConfigError               exit 3   a configuration file or setting is wrong
    │   ├── KeyFileError              exit 4   a key file is missing, unsafe (mode) or undecryptable
    │   ├── InputError                exit 5   a message or file the user gave us is invalid
    │   │   └── InvalidMessage        exit 5   a value object's invariant does not hold
    │   ├── PolicyRefused             exit 6   the request breaks an agreement; .rule names it
    │   └── NotAvailable              exit 7   the command is not available in this version
    ├── PeerError                     exit 10  a peer's bad or hostile data; .reason (RejectReason)
    ├── TransportError                exit 20  broker, network or partner-system transport failed
    └── IntegrityError                exit 30  an audit found the log or a proof not as it should be

Exit codes 0 (success), 1 (an unexpected internal error: a bug, please report it) and 2 (the command
line was wrong; click's own usage errors) complete the set. They are stable: scripts may rely on
them, and README lists them.

Crypto failures are uniform outside and specific inside: ``str(PeerError)`` is the generic
"message rejected" that a peer may see, while ``.reason`` and ``.detail`` give the operator and the
exchange log the exact cause. No error carries key material or case content in its text.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "InputError",
    "IntegrityError",
    "InvalidMessage",
    "KeyFileError",
    "LiaisonError",
    "LocalError",
    "NotAvailable",
    "PeerError",
    "PolicyRefused",
    "RejectReason",
    "TransportError",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2


class LiaisonError(Exception):
    """Base of every error Liaison raises on purpose."""

    exit_code: int = EXIT_INTERNAL

    def __init__(self, diagnosis: str) -> None:
        super().__init__(diagnosis)
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return self.diagnosis


class LocalError(LiaisonError):
    """The fault is on our side: configuration, key files, the user's own input or request."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration file, located by its dotted key path (``amqp.url``)."""

    key_path: str
    message: str

    def __str__(self) -> str:
        return f"{self.key_path}: {self.message}"


class ConfigError(LocalError):
    """A configuration file or setting is wrong; ``problems`` lists every problem found."""

    exit_code = 3

    def __init__(self, diagnosis: str, problems: Sequence[ConfigProblem] = ()) -> None:
        super().__init__(diagnosis)
        self.problems = tuple(problems)


class KeyFileError(LocalError):
    """A key file is missing, readable by others, malformed, or its passphrase is wrong."""

    exit_code = 4


class InputError(LocalError):
    """A message or file the user handed us is invalid (the diagnosis says where)."""

    exit_code = 5


class InvalidMessage(InputError):
    """A value object's invariant does not hold; ``field`` is the dotted path of the culprit.

    Code that decodes a peer's data turns this into a :class:`PeerError` with reason
    ``malformed``, so a peer's bad data never surfaces as the user's fault.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class PolicyRefused(LocalError):
    """The request is not allowed by the agreements in force; ``rule`` names the rule."""

    exit_code = 6

    def __init__(self, rule: str, diagnosis: str) -> None:
        super().__init__(f"refused by policy rule {rule}: {diagnosis}")
        self.rule = rule


class NotAvailable(LocalError):
    """The command exists in the command tree but is not available in this version yet."""

    exit_code = 7


class RejectReason(enum.StrEnum):
    """Why a peer's message was rejected: the stable codes of the exchange log and dead letters.

    The values are part of the wire and log specifications (docs/envelope.md); never rename one.
    """

    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported-version"
    UNSUPPORTED_SUITE = "unsupported-suite"
    UNKNOWN_SENDER = "unknown-sender"
    SENDER_KEY_EXPIRED = "sender-key-expired"
    SENDER_KEY_NOT_YET_VALID = "sender-key-not-yet-valid"
    SENDER_KEY_REVOKED = "sender-key-revoked"
    BAD_SIGNATURE = "bad-signature"
    NOT_A_RECIPIENT = "not-a-recipient"
    COMMITMENT_MISMATCH = "commitment-mismatch"
    DECRYPTION_FAILED = "decryption-failed"
    EXPIRED = "expired"
    FROM_THE_FUTURE = "from-the-future"
    REPLAY = "replay"
    OVERSIZE = "oversize"
    POLICY = "policy"


class PeerError(LiaisonError):
    """A peer's data was bad or hostile and was rejected.

    ``str()`` is deliberately generic; ``reason`` is the stable code and ``detail`` a one-line
    explanation for the operator and the exchange log (never key material or case content).
    """

    exit_code = 10
    GENERIC = "message rejected"

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(self.GENERIC)
        self.reason = reason
        self.detail = detail

    def __repr__(self) -> str:
        return f"PeerError(reason={self.reason.value!r}, detail={self.detail!r})"

    def explain(self) -> str:
        """The operator's view: code and detail."""
        return f"{self.GENERIC} ({self.reason.value})" + (f": {self.detail}" if self.detail else "")


class TransportError(LiaisonError):
    """The broker, the network or a partner system's transport failed; retrying may help."""

    exit_code = 20


class IntegrityError(LiaisonError):
    """An audit found the exchange log, a checkpoint, a proof or a stored envelope not as it
    should be."""

    exit_code = 30
