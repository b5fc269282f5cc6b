"""Whether an office may trust a signed directory: the loading rules, in order. Pure.

docs/directory.md, "Loading rules". Given the bytes of a SignedDirectory, what the office
trusts now (``TrustState``: the pinned root at first, then the root, version and digest of the
last directory it accepted) and the time ``now``:

1. size: larger than ``DirectoryLimits.max_bytes`` is refused before anything is parsed;
2. signatures: every signature by a key of the trusted root must verify, and at least
   ``threshold`` distinct trusted keys must have signed;
3. form: the content must decode and follow every content rule;
4. root rotation: if the content's root differs from the trusted one (other keys or another
   threshold), a threshold of the *new* keys must have signed too;
5. rollback: the version must not be lower than the last accepted one; the same version is
   accepted again only with the same content bytes;
6. freeze: the directory must not have expired (``now < expires_at``).

A refusal is an :class:`~broker.errors.IntegrityError` whose diagnosis starts with
``directory refused (RULE):``; ``refusal_rule`` reads the rule back. The office keeps running on
its last accepted directory when a new one is refused (``broker.directory.store``).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from broker.directory.directory import Directory
from broker.directory.model import Root
from broker.directory.signing import Tally, tally
from broker.directory.wire import decode_content, decode_signed
from broker.errors import InputError, IntegrityError, LiaisonError

REFUSED = "directory refused"


class DirectoryRule(enum.StrEnum):
    """The rule that refused a directory: stable codes for logs, scripts and the spec."""

    OVERSIZE = "oversize"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad-signature"
    BELOW_THRESHOLD = "below-threshold"
    ROOT_ROTATION_UNSIGNED = "root-rotation-unsigned"
    ROLLBACK = "rollback"
    VERSION_CONFLICT = "version-conflict"
    EXPIRED = "expired"


_RULE_IN_DIAGNOSIS = re.compile(rf"^{REFUSED} \(([a-z-]+)\): ")


def refused(rule: DirectoryRule, detail: str) -> IntegrityError:
    """The error for a directory refused by ``rule``."""
    return IntegrityError(f"{REFUSED} ({rule.value}): {detail}")


def refusal_rule(error: LiaisonError) -> DirectoryRule | None:
    """The rule named by an error from ``accept_directory``; None for any other error."""
    found = _RULE_IN_DIAGNOSIS.match(error.diagnosis)
    if not isinstance(error, IntegrityError) or found is None:
        return None
    try:
        return DirectoryRule(found.group(1))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DirectoryLimits:
    """Bounds checked before a directory is parsed."""

    # 500 offices with a hybrid key each, two rotations deep, stay under 4 MiB.
    max_bytes: int = 8 * 1024 * 1024
    # A root has at most 32 keys; more signatures than that are junk.
    max_signatures: int = 32


@dataclass(frozen=True, slots=True)
class TrustState:
    """What an office trusts now: a root, and the version and content digest it last accepted
    (version 0 and an empty digest before the first directory)."""

    root: Root
    version: int = 0
    content_digest: bytes = field(default=b"", repr=False)

    @classmethod
    def pinned(cls, root: Root) -> TrustState:
        """The state of a new installation: only the pinned root."""
        return cls(root)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A directory that passed every rule, and the state to persist for the next one."""

    directory: Directory
    state: TrustState
    signers: tuple[str, ...]  # names of the administrators whose signatures counted
    root_rotated: bool
    not_counted: int  # signatures by keys of neither the trusted nor the new root


def accept_directory(
    data: bytes,
    trusted: TrustState,
    *,
    now: datetime,
    limits: DirectoryLimits = DirectoryLimits(),
) -> Accepted:
    """Apply the loading rules to ``data``; IntegrityError naming the rule that refused it."""
    return _accept(data, trusted, now=now, limits=limits, final=True)


def accept_chain(
    chain: Sequence[bytes],
    trusted: TrustState,
    *,
    now: datetime,
    limits: DirectoryLimits = DirectoryLimits(),
) -> Accepted:
    """Accept directories in order, each trusted by the one before; only the last must not have
    expired. This is how an office that missed a root rotation catches up: it is given the
    directory that rotated the root, then the current one."""
    if not chain:
        raise InputError("no directory given")
    accepted = None
    for index, data in enumerate(chain):
        accepted = _accept(data, trusted, now=now, limits=limits, final=index == len(chain) - 1)
        trusted = accepted.state
    assert accepted is not None  # noqa: S101 - the chain is not empty
    return accepted


def _accept(
    data: bytes, trusted: TrustState, *, now: datetime, limits: DirectoryLimits, final: bool
) -> Accepted:
    if now.tzinfo is None:
        raise InputError("now must be an aware datetime (UTC)")
    if len(data) > limits.max_bytes:
        raise refused(DirectoryRule.OVERSIZE, f"{len(data)} bytes, more than {limits.max_bytes}")
    try:
        parts = decode_signed(data, max_signatures=limits.max_signatures)
    except InputError as exc:
        raise refused(DirectoryRule.MALFORMED, exc.diagnosis) from None
    old = tally(parts.content, parts.signatures, trusted.root)
    _require(old, trusted.root, DirectoryRule.BELOW_THRESHOLD, "the trusted root")
    try:
        content = decode_content(parts.content)
    except InputError as exc:
        raise refused(DirectoryRule.MALFORMED, exc.diagnosis) from None
    rotated = not content.root.same_trust(trusted.root)
    new = tally(parts.content, parts.signatures, content.root) if rotated else old
    if rotated:
        _require(new, content.root, DirectoryRule.ROOT_ROTATION_UNSIGNED, "the new root")
    digest = hashlib.sha256(parts.content).digest()
    if content.version < trusted.version:
        raise refused(
            DirectoryRule.ROLLBACK,
            f"version {content.version} is older than version {trusted.version} accepted before",
        )
    if content.version == trusted.version and digest != trusted.content_digest:
        raise refused(
            DirectoryRule.VERSION_CONFLICT,
            f"version {content.version} was accepted before with different content",
        )
    if final and now >= content.expires_at:
        raise refused(
            DirectoryRule.EXPIRED,
            f"version {content.version} expired at {content.expires_at.isoformat()}",
        )
    directory = Directory(content, parts.content)
    counted = old.valid | new.valid
    names = {k.key_id: k.name for k in (*trusted.root.keys, *content.root.keys)}
    return Accepted(
        directory=directory,
        state=TrustState(content.root, content.version, digest),
        signers=tuple(sorted(names[key_id] for key_id in counted)),
        root_rotated=rotated,
        not_counted=sum(1 for s in parts.signatures if s.key_id not in counted),
    )


def _require(count: Tally, root: Root, short: DirectoryRule, whose: str) -> None:
    if count.invalid:
        names = ", ".join(sorted(_name(root, key_id) for key_id in count.invalid))
        raise refused(
            DirectoryRule.BAD_SIGNATURE,
            f"the signature of {names} ({whose}) does not verify over this content",
        )
    if not count.met:
        raise refused(
            short,
            f"{len(count.valid)} valid signature(s) by {whose}, {count.threshold} needed",
        )


def _name(root: Root, key_id: bytes) -> str:
    admin = root.key(key_id)
    return admin.name if admin is not None else key_id.hex()
