"""The trust anchors as JSON documents: the pinned root and the persisted state. Pure.

docs/directory.md, "Pinned root" and "State". The pinned root is what an installation trusts
before it has accepted any directory; the state is what it remembers after each one (the
accepted root, version and content digest), written by ``broker.directory.store``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from broker.directory.model import AdminKey, Root
from broker.directory.trust import TrustState
from broker.directory.vocabulary import ADMIN_NAME, matches
from broker.errors import ConfigError, IntegrityError, LiaisonError
from broker.keys.model import KeyAlg

ROOT_FORMAT = "liaison-directory-root-v1"
STATE_FORMAT = "liaison-directory-state-v1"
MAX_ANCHOR_BYTES = 256 * 1024
MAX_ROOT_KEYS = 32


def root_document(root: Root) -> dict[str, Any]:
    """The pinned-root JSON object for ``root``."""
    return {
        "format": ROOT_FORMAT,
        "threshold": root.threshold,
        "keys": [
            {
                "name": admin.name,
                "alg": KeyAlg.ED25519.value,
                "public_key": base64.b64encode(admin.public_key).decode("ascii"),
                "key_id": admin.key_id.hex(),
                "fingerprint": admin.fingerprint,
            }
            for admin in root.keys
        ],
    }


def encode_root(root: Root) -> bytes:
    return _json_bytes(root_document(root))


def decode_root(data: bytes, *, name: str = "pinned root") -> Root:
    """The root in a pinned-root file; ConfigError naming the field otherwise."""
    document = _parse(data, name, ConfigError)
    return _root(document, name, ConfigError, "")


def state_document(state: TrustState) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "version": state.version,
        "content_sha256": state.content_digest.hex(),
        "root": root_document(state.root),
    }


def encode_state(state: TrustState) -> bytes:
    return _json_bytes(state_document(state))


def decode_state(data: bytes, *, name: str = "directory state") -> TrustState:
    """The persisted state; IntegrityError if it is damaged (the office's own file)."""
    document = _parse(data, name, IntegrityError)
    _only(document, ("format", "version", "content_sha256", "root"), name, IntegrityError, "")
    if document.get("format") != STATE_FORMAT:
        raise IntegrityError(f"{name}: format is not {STATE_FORMAT!r}")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**63:
        raise IntegrityError(f"{name}: version is not a positive integer")
    digest_hex = document.get("content_sha256")
    try:
        digest = bytes.fromhex(digest_hex) if isinstance(digest_hex, str) else b""
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise IntegrityError(f"{name}: content_sha256 is not 64 hex digits")
    root = _root(document.get("root"), name, IntegrityError, "root.")
    return TrustState(root, version, digest)


def _root(document: object, name: str, error: type[LiaisonError], prefix: str) -> Root:
    if not isinstance(document, dict):
        raise error(f"{name}: {prefix or 'the document '}is not an object")
    _only(document, ("format", "threshold", "keys"), name, error, prefix)
    if document.get("format") != ROOT_FORMAT:
        raise error(f"{name}: {prefix}format is not {ROOT_FORMAT!r}")
    entries = document.get("keys")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ROOT_KEYS:
        raise error(f"{name}: {prefix}keys must list 1 to {MAX_ROOT_KEYS} keys")
    admins = [_admin(entry, name, error, f"{prefix}keys[{i}].") for i, entry in enumerate(entries)]
    if len({admin.public_key for admin in admins}) != len(admins):
        raise error(f"{name}: {prefix}keys lists a key twice")
    threshold = document.get("threshold")
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise error(f"{name}: {prefix}threshold is not an integer")
    if not 1 <= threshold <= len(admins):
        raise error(f"{name}: {prefix}threshold must be between 1 and {len(admins)}")
    return Root(tuple(sorted(admins, key=lambda admin: admin.key_id)), threshold)


def _admin(entry: object, name: str, error: type[LiaisonError], prefix: str) -> AdminKey:
    if not isinstance(entry, dict):
        raise error(f"{name}: {prefix.rstrip('.')} is not an object")
    _only(entry, ("name", "alg", "public_key", "key_id", "fingerprint"), name, error, prefix)
    admin_name = entry.get("name")
    if not isinstance(admin_name, str) or not matches(ADMIN_NAME, admin_name):
        raise error(f"{name}: {prefix}name is not an administrator name")
    if entry.get("alg") != KeyAlg.ED25519.value:
        raise error(f"{name}: {prefix}alg must be 'ed25519'")
    try:
        public = base64.b64decode(str(entry.get("public_key", "")).encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise error(f"{name}: {prefix}public_key is not base64") from None
    if len(public) != 32:
        raise error(f"{name}: {prefix}public_key is not a 32-byte Ed25519 key")
    admin = AdminKey(admin_name, public)
    if entry.get("key_id") != admin.key_id.hex():
        raise error(f"{name}: {prefix}key_id is not the id of public_key")
    if "fingerprint" in entry and entry["fingerprint"] != admin.fingerprint:
        raise error(f"{name}: {prefix}fingerprint is not that of public_key")
    return admin


def _only(
    document: dict[str, Any],
    names: tuple[str, ...],
    name: str,
    error: type[LiaisonError],
    prefix: str,
) -> None:
    unknown = sorted(str(key) for key in document if key not in names)
    if unknown:
        raise error(f"{name}: unknown field {prefix}{unknown[0][:40]}")


def _parse(data: bytes, name: str, error: type[LiaisonError]) -> dict[str, Any]:
    if len(data) > MAX_ANCHOR_BYTES:
        raise error(f"{name} is larger than {MAX_ANCHOR_BYTES} bytes")
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{name} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise error(f"{name} is not valid JSON (line {exc.lineno})") from None
    except RecursionError:
        raise error(f"{name} is not valid JSON (nested too deeply)") from None
    if not isinstance(document, dict):
        raise error(f"{name}: the document is not an object")
    return document


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")
