"""The office's own keys in its exchange log: key-generated, key-rotated, key-revoked. Pure.

Keys are made offline (``liaison keys generate`` has no log to write to) and the daemon holds
one key set, so the log records what the daemon sees: the first time it starts with a key of a
role (signing, encryption, hybrid) it logs ``key-generated``; when it starts with another key
of a role it had logged, ``key-rotated`` (the new key's id; the old one is in the earlier
entry); when a directory edition it loads revokes one of the office's keys, ``key-revoked``
with the revocation's reason. ``KeysLogged`` is what was logged so far, kept in the office
store beside the entries' journal so that each event is written once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from broker.directory import Directory
from broker.errors import IntegrityError
from broker.exchange_log import EventType, LogEntry
from broker.keys.model import OfficePublicKeys


@dataclass(frozen=True, slots=True)
class KeysLogged:
    """The key in use per role, and the revoked key ids, as the log has them."""

    in_use: dict[str, bytes] = field(default_factory=dict)
    revoked: frozenset[bytes] = frozenset()

    def to_json(self) -> str:
        return json.dumps(
            {
                "in_use": {role: key.hex() for role, key in sorted(self.in_use.items())},
                "revoked": sorted(key.hex() for key in self.revoked),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> KeysLogged:
        """The note as ``to_json`` wrote it (None: nothing logged yet); IntegrityError if it
        is not that."""
        if text is None:
            return cls()
        try:
            data = json.loads(text)
            return cls(
                {str(role): bytes.fromhex(key) for role, key in data["in_use"].items()},
                frozenset(bytes.fromhex(key) for key in data["revoked"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrityError(
                "the office store's note of the keys logged is damaged; restore the store from"
                " a backup"
            ) from None


def own_keys(public: OfficePublicKeys) -> dict[str, bytes]:
    """The daemon's key ids by role."""
    roles = {"signing": public.signing_key_id, "encryption": public.encryption_key_id}
    if public.hybrid_key_id is not None:
        roles["hybrid"] = public.hybrid_key_id
    return roles


def key_events(
    public: OfficePublicKeys, directory: Directory, logged: KeysLogged, now: datetime
) -> tuple[list[LogEntry], KeysLogged]:
    """The entries to write for the keys the daemon holds and the directory's revocations of
    the office's keys, and what is logged once they are written."""
    entries: list[LogEntry] = []
    in_use = dict(logged.in_use)
    for role, key_id in own_keys(public).items():
        before = in_use.get(role)
        if before == key_id:
            continue
        event = EventType.KEY_GENERATED if before is None else EventType.KEY_ROTATED
        entries.append(LogEntry(event, now, key_id=key_id, actor=public.office_id, reason=role))
        in_use[role] = key_id
    revoked = set(logged.revoked)
    office = directory.office(public.office_id)
    for key in () if office is None else office.keys:
        if key.revocation is None or key.key_id in revoked:
            continue
        entries.append(
            LogEntry(
                EventType.KEY_REVOKED,
                now,
                key_id=key.key_id,
                actor=public.office_id,
                reason=key.revocation.reason.value,
            )
        )
        revoked.add(key.key_id)
    return entries, KeysLogged(in_use, frozenset(revoked))
