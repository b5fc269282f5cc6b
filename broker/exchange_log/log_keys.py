"""Which key signs an office's log, and how a verifier finds it. Pure.

The log key is the office's Ed25519 signing key, the one the directory publishes, under the
key name ``<network>/log/<office id>`` (the log's origin). Reusing it is safe: an envelope
signature covers a PAE starting with zero bytes, which no note text can contain, and note texts
start with the origin (docs/exchange-log.md, "Which keys").

A verifier gets the key either as a verifier key string (``name+keyid+base64``, what
``liaison audit key`` prints) or from a directory: each stored checkpoint carries the 16-byte id
of the key that signed it and its signing time, and the directory answers which key that was
and whether it was valid then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from broker.envelope import DirectoryView
from broker.errors import IntegrityError, PeerError
from broker.exchange_log.records import StoredCheckpoint
from broker.keys.model import OfficeKeys, OfficePublicKeys
from broker.ledger import Ed25519Signer, Ed25519Verifier, office_origin

DEFAULT_NETWORK: Final = "liaison.example"


def log_signer(keys: OfficeKeys, *, network: str = DEFAULT_NETWORK) -> Ed25519Signer:
    """The signer of ``keys.office_id``'s checkpoints: its signing key, named by the origin."""
    return Ed25519Signer(office_origin(network, keys.office_id), keys.signing)


def log_verifier(public: OfficePublicKeys, *, network: str = DEFAULT_NETWORK) -> Ed25519Verifier:
    """The verifier key of an office's log, from its published signing key."""
    return Ed25519Verifier(office_origin(network, public.office_id), public.signing)


class LogKeys(Protocol):
    """Finds the key that should have signed a stored checkpoint."""

    def verifier_for(
        self, checkpoint: StoredCheckpoint, office_id: str, origin: str
    ) -> Ed25519Verifier:
        """The verifier to open it with; IntegrityError when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class FixedLogKey:
    """One verifier key, given by the auditor: every checkpoint must verify under it."""

    verifier: Ed25519Verifier

    def verifier_for(
        self, checkpoint: StoredCheckpoint, office_id: str, origin: str
    ) -> Ed25519Verifier:
        del checkpoint, office_id
        if self.verifier.name != origin:
            raise IntegrityError(
                f"the verifier key is for {self.verifier.name!r}, the log is {origin!r}"
            )
        return self.verifier


@dataclass(frozen=True)
class DirectoryLogKeys:
    """The office's signing key as a directory lists it for the checkpoint's time."""

    directory: DirectoryView

    def verifier_for(
        self, checkpoint: StoredCheckpoint, office_id: str, origin: str
    ) -> Ed25519Verifier:
        try:
            public = self.directory.signing_key(office_id, checkpoint.key_id, checkpoint.created_at)
        except PeerError as exc:
            raise IntegrityError(
                f"no valid log key: {exc.reason.value}: {exc.detail or 'not in the directory'}"
            ) from None
        return Ed25519Verifier(origin, public)
