"""An office's key files on disk: the I/O edge of ``broker.keys`` (format: docs/keys.md).

A key directory holds one JSON file per private key (``signing.key``, ``encryption.key`` and,
for the post-quantum suite, ``hybrid.key``), each mode 0600, and ``public.json`` for the
directory administrators. Every failure is a :class:`KeyFileError` whose one-line diagnosis
names the file and never contains key bytes or the passphrase.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shlex
import stat
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from broker.durable import fsync_dir
from broker.errors import KeyFileError
from broker.keys.model import (
    KEY_ID_LEN,
    HybridPublicKey,
    KeyAlg,
    OfficeKeys,
    OfficePublicKeys,
    fingerprint,
    key_id,
)
from broker.keys.passphrase import NONCE_LEN, SALT_LEN, Kdf, SealedSecret, Unlocker

__all__ = [
    "Kdf",
    "KeyHeader",
    "existing_key_files",
    "is_protected",
    "load_office_keys",
    "load_public_keys",
    "public_keys_document",
    "read_key_headers",
    "save_office_keys",
]

PRIVATE_FORMAT = "liaison-private-key-v1"
PUBLIC_FORMAT = "liaison-public-keys-v1"
UNPROTECTED = "none"
PROTECTED = "argon2id-secretbox"
KDF_NAME = "argon2id13"  # libsodium crypto_pwhash_ALG_ARGON2ID13

SIGNING_FILE = "signing.key"
ENCRYPTION_FILE = "encryption.key"
HYBRID_FILE = "hybrid.key"
PUBLIC_FILE = "public.json"
# Private key files and the key each holds; hybrid.key is optional.
KEY_FILES = {
    SIGNING_FILE: KeyAlg.ED25519,
    ENCRYPTION_FILE: KeyAlg.X25519,
    HYBRID_FILE: KeyAlg.MLKEM768_X25519,
}
# public.json names each key by its use.
PUBLIC_USES = {
    "signing": KeyAlg.ED25519,
    "encryption": KeyAlg.X25519,
    "hybrid": KeyAlg.MLKEM768_X25519,
}
PRIVATE_LEN = {KeyAlg.ED25519: 32, KeyAlg.X25519: 32, KeyAlg.MLKEM768_X25519: 64 + 32}
PUBLIC_LEN = {KeyAlg.ED25519: 32, KeyAlg.X25519: 32, KeyAlg.MLKEM768_X25519: 1184 + 32}

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o700
MAX_FILE_BYTES = 64 * 1024  # a key file is < 4 KiB; refuse to slurp anything huge
MAX_OFFICE_ID_LEN = 128

HOW_TO_UNLOCK = "give --passphrase-fd, --passphrase-env or --ask-passphrase"


@dataclass(frozen=True, slots=True)
class KeyHeader:
    """The public part of a private key file: which office, which key, how protected."""

    path: Path
    office_id: str
    alg: KeyAlg
    key_id: bytes
    protection: str


# ---------------------------------------------------------------- saving


def save_office_keys(
    keys: OfficeKeys,
    out_dir: Path,
    *,
    passphrase: bytes | None = None,
    kdf: Kdf = Kdf(),  # noqa: B008 - a frozen value, safe as a default
    force: bool = False,
    rng: Callable[[int], bytes] = os.urandom,
) -> list[Path]:
    """Write the office's key files into ``out_dir`` (created 0700) and return their paths.

    Private key files are created 0600 and never exist with wider permissions, even briefly.
    Existing key files are refused unless ``force``; then they are replaced atomically, and a
    ``hybrid.key`` left from an earlier post-quantum key set is removed if ``keys`` has none.
    """
    _check_office_id("cannot save the keys", keys.office_id)
    if passphrase is not None and not passphrase:
        raise KeyFileError("an empty passphrase protects nothing; give a real one or none")
    public = keys.public()
    raw_keys = {SIGNING_FILE: keys.signing.private_bytes_raw()}
    raw_keys[ENCRYPTION_FILE] = keys.encryption.private_bytes_raw()
    public_raw = {SIGNING_FILE: public.signing, ENCRYPTION_FILE: public.encryption}
    if keys.hybrid_mlkem is not None and keys.hybrid_x25519 is not None and public.hybrid:
        hybrid = keys.hybrid_mlkem.private_bytes_raw() + keys.hybrid_x25519.private_bytes_raw()
        raw_keys[HYBRID_FILE] = hybrid
        public_raw[HYBRID_FILE] = public.hybrid.raw()
    _make_key_dir(out_dir)
    if not force:
        for name in [*raw_keys, PUBLIC_FILE]:
            if os.path.lexists(out_dir / name):
                raise KeyFileError(_exists(out_dir / name))
    unlocker = None if passphrase is None else Unlocker(passphrase)
    salt = rng(SALT_LEN)  # one salt for the set: loading it costs one argon2id run, not three
    written = []
    for name, raw in raw_keys.items():
        alg = KEY_FILES[name]
        document: dict[str, Any] = {
            "format": PRIVATE_FORMAT,
            "office": keys.office_id,
            "alg": alg.value,
            "key_id": key_id(alg, public_raw[name]).hex(),
        }
        if unlocker is None:
            document |= {"protection": UNPROTECTED, "private_key": _b64(raw)}
        else:
            sealed = unlocker.seal(raw, salt=salt, kdf=kdf, rng=rng)
            document |= {"protection": PROTECTED, **_sealed_fields(sealed)}
        _write_file(out_dir / name, _json_bytes(document), PRIVATE_MODE, replace=force, rng=rng)
        written.append(out_dir / name)
    if force and HYBRID_FILE not in raw_keys:
        _remove(out_dir / HYBRID_FILE)
    public_document = public_keys_document(public)
    _write_file(
        out_dir / PUBLIC_FILE, _json_bytes(public_document), PUBLIC_MODE, replace=force, rng=rng
    )
    written.append(out_dir / PUBLIC_FILE)
    _fsync_dir(out_dir)
    return written


def public_keys_document(public: OfficePublicKeys) -> dict[str, Any]:
    """The JSON document of public.json (also what ``liaison keys show --json`` prints)."""
    raws = {"signing": public.signing, "encryption": public.encryption}
    if public.hybrid is not None:
        raws["hybrid"] = public.hybrid.raw()
    entries = {}
    for use, raw in raws.items():
        alg = PUBLIC_USES[use]
        entries[use] = {
            "alg": alg.value,
            "public_key": _b64(raw),
            "key_id": key_id(alg, raw).hex(),
            "fingerprint": fingerprint(alg, raw),
        }
    return {"format": PUBLIC_FORMAT, "office": public.office_id, "keys": entries}


def _sealed_fields(sealed: SealedSecret) -> dict[str, Any]:
    kdf = {"name": KDF_NAME, "opslimit": sealed.kdf.opslimit, "memlimit": sealed.kdf.memlimit}
    return {
        "kdf": kdf | {"salt": _b64(sealed.salt)},
        "nonce": _b64(sealed.nonce),
        "ciphertext": _b64(sealed.ciphertext),
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def _exists(path: Path) -> str:
    return f"{path} already exists; refusing to overwrite keys (give --force to replace them)"


def _make_key_dir(out_dir: Path) -> None:
    try:
        if not out_dir.exists():
            out_dir.mkdir(mode=DIR_MODE, parents=True)
            out_dir.chmod(DIR_MODE)  # exactly 0700, whatever the umask
        elif not out_dir.is_dir():
            raise KeyFileError(f"{out_dir} exists and is not a directory")
    except OSError as exc:
        raise KeyFileError(f"cannot create key directory {out_dir}: {exc.strerror}") from None


def _write_file(
    path: Path, data: bytes, mode: int, *, replace: bool, rng: Callable[[int], bytes]
) -> None:
    """Create ``path`` with ``mode`` from its first instant; with ``replace``, through a new
    temporary file renamed over it, so an old file is swapped whole and never loosened."""
    target = path.with_name(f".{path.name}.{rng(6).hex()}.tmp") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(target, flags, mode)
    except FileExistsError:
        raise KeyFileError(_exists(path)) from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from None
    try:
        try:
            os.fchmod(fd, mode)  # exactly ``mode``: the umask could only have narrowed it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            target.replace(path)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise KeyFileError(f"cannot write {path}: {exc.strerror}") from None


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise KeyFileError(f"cannot remove the old {path}: {exc.strerror}") from None


def _fsync_dir(directory: Path) -> None:
    try:
        fsync_dir(directory)
    except OSError as exc:
        raise KeyFileError(f"cannot sync key directory {directory}: {exc.strerror}") from None


# ---------------------------------------------------------------- loading


def load_office_keys(key_dir: Path, *, passphrase: bytes | None = None) -> OfficeKeys:
    """Load and check the private keys in ``key_dir``; ``hybrid.key`` is optional.

    Each key must derive the public key its file's ``key_id`` names, all files must name the
    same office, and if ``public.json`` is present it must list exactly these keys.
    """
    unlocker = None if passphrase is None else Unlocker(passphrase)
    raws: dict[KeyAlg, bytes] = {}
    office_id = ""
    for name, alg in KEY_FILES.items():
        path = key_dir / name
        if alg is KeyAlg.MLKEM768_X25519 and not os.path.lexists(path):
            continue
        header, fields = _read_private(path, alg)
        if office_id and header.office_id != office_id:
            raise KeyFileError(
                f"{path} is a key of office {header.office_id}, not of office {office_id}"
            )
        office_id = header.office_id
        raws[alg] = _unlock(header, fields, unlocker)
    keys = OfficeKeys.from_seeds(
        office_id,
        signing=raws[KeyAlg.ED25519],
        encryption=raws[KeyAlg.X25519],
        hybrid_mlkem=raws[KeyAlg.MLKEM768_X25519][:64] if KeyAlg.MLKEM768_X25519 in raws else None,
        hybrid_x25519=raws[KeyAlg.MLKEM768_X25519][64:] if KeyAlg.MLKEM768_X25519 in raws else None,
    )
    public_path = key_dir / PUBLIC_FILE
    if os.path.lexists(public_path) and load_public_keys(public_path) != keys.public():
        raise KeyFileError(f"{public_path} does not list the keys in {key_dir}: mixed-up files")
    return keys


def load_public_keys(path: Path) -> OfficePublicKeys:
    """The public keys in ``path``: a key directory (its public.json) or a public.json file."""
    path = path / PUBLIC_FILE if path.is_dir() else path
    doc = _Fields(path, _parse_json(path, _read_bytes(path, private=False)))
    doc.only("format", "office", "keys")
    if doc.text("format") != PUBLIC_FORMAT:
        raise KeyFileError(f"{path}: format is not {PUBLIC_FORMAT!r}")
    office_id = _check_office_id(str(path), doc.text("office"))
    entries = doc.object("keys")
    entries.only(*PUBLIC_USES)
    raws: dict[str, bytes] = {}
    for use, alg in PUBLIC_USES.items():
        if use == "hybrid" and "hybrid" not in entries.data:
            continue
        entry = entries.object(use)
        entry.only("alg", "public_key", "key_id", "fingerprint")
        if entry.text("alg") != alg.value:
            raise KeyFileError(f"{path}: keys.{use}.alg must be {alg.value!r}")
        raws[use] = entry.base64("public_key", PUBLIC_LEN[alg])
        if entry.hex("key_id", KEY_ID_LEN) != key_id(alg, raws[use]):
            raise KeyFileError(f"{path}: keys.{use}.key_id is not the id of its public key")
        if "fingerprint" in entry.data and entry.text("fingerprint") != fingerprint(alg, raws[use]):
            raise KeyFileError(f"{path}: keys.{use}.fingerprint is not that of its public key")
    hybrid = None
    if "hybrid" in raws:
        hybrid = HybridPublicKey(mlkem=raws["hybrid"][:1184], x25519=raws["hybrid"][1184:])
    return OfficePublicKeys(office_id, raws["signing"], raws["encryption"], hybrid)


def existing_key_files(key_dir: Path) -> list[Path]:
    """The key files (private and public.json) already present in ``key_dir``."""
    names = [*KEY_FILES, PUBLIC_FILE]
    return [key_dir / name for name in names if os.path.lexists(key_dir / name)]


def is_protected(key_dir: Path) -> bool:
    """Whether any private key file in ``key_dir`` is passphrase-protected."""
    return any(header.protection == PROTECTED for header in read_key_headers(key_dir))


def read_key_headers(key_dir: Path) -> list[KeyHeader]:
    """The header of each private key file in ``key_dir``: office, algorithm, key id,
    protection. The key bytes are never decoded nor decrypted (this serves ``keys show``)."""
    return [
        _read_private(key_dir / name, alg)[0]
        for name, alg in KEY_FILES.items()
        if alg is not KeyAlg.MLKEM768_X25519 or os.path.lexists(key_dir / name)
    ]


def _read_private(path: Path, alg: KeyAlg) -> tuple[KeyHeader, _Fields]:
    doc = _Fields(path, _parse_json(path, _read_bytes(path, private=True)))
    if doc.text("format") != PRIVATE_FORMAT:
        raise KeyFileError(f"{path}: format is not {PRIVATE_FORMAT!r}")
    if doc.text("alg") != alg.value:
        raise KeyFileError(f"{path}: alg must be {alg.value!r} in this file")
    protection = doc.text("protection")
    if protection == UNPROTECTED:
        doc.only("format", "office", "alg", "key_id", "protection", "private_key")
    elif protection == PROTECTED:
        doc.only("format", "office", "alg", "key_id", "protection", "kdf", "nonce", "ciphertext")
    else:
        raise KeyFileError(f"{path}: protection must be {UNPROTECTED!r} or {PROTECTED!r}")
    office_id = _check_office_id(str(path), doc.text("office"))
    header = KeyHeader(path, office_id, alg, doc.hex("key_id", KEY_ID_LEN), protection)
    return header, doc


def _unlock(header: KeyHeader, doc: _Fields, unlocker: Unlocker | None) -> bytes:
    """The private key bytes of a parsed file, checked against its ``key_id``."""
    path = header.path
    if header.protection == UNPROTECTED:
        raw = doc.base64("private_key", PRIVATE_LEN[header.alg])
    else:
        kdf_fields = doc.object("kdf")
        kdf_fields.only("name", "opslimit", "memlimit", "salt")
        if kdf_fields.text("name") != KDF_NAME:
            raise KeyFileError(f"{path}: kdf.name must be {KDF_NAME!r}")
        try:
            kdf = Kdf(kdf_fields.integer("opslimit"), kdf_fields.integer("memlimit"))
        except KeyFileError as exc:
            raise KeyFileError(f"{path}: {exc.diagnosis}") from None
        sealed = SealedSecret(
            kdf=kdf,
            salt=kdf_fields.base64("salt", SALT_LEN),
            nonce=doc.base64("nonce", NONCE_LEN),
            ciphertext=doc.base64("ciphertext", PRIVATE_LEN[header.alg] + 16),
        )
        if unlocker is None:
            raise KeyFileError(f"key file {path} is passphrase-protected; {HOW_TO_UNLOCK}")
        opened = unlocker.open(sealed)
        if opened is None or len(opened) != PRIVATE_LEN[header.alg]:
            raise KeyFileError(f"wrong passphrase or corrupted key file: {path}")
        raw = opened
    if key_id(header.alg, _derive_public(header.alg, raw)) != header.key_id:
        raise KeyFileError(f"{path}: the key does not match the file's key_id (mixed-up file?)")
    return raw


def _derive_public(alg: KeyAlg, raw: bytes) -> bytes:
    if alg is KeyAlg.ED25519:
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
    if alg is KeyAlg.X25519:
        return x25519.X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
    mlkem_public = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:64]).public_key()
    x25519_public = x25519.X25519PrivateKey.from_private_bytes(raw[64:]).public_key()
    return mlkem_public.public_bytes_raw() + x25519_public.public_bytes_raw()


def _check_office_id(context: str, office_id: str) -> str:
    # Deliberately loose: the directory owns the naming rules; here only what would break
    # a file name, a log line or a terminal is refused.
    if not office_id or len(office_id) > MAX_OFFICE_ID_LEN or not office_id.isprintable():
        raise KeyFileError(f"{context}: an office id is 1-{MAX_OFFICE_ID_LEN} printable characters")
    if any(char.isspace() or char in "/\\" for char in office_id):
        raise KeyFileError(f"{context}: an office id has no spaces or slashes")
    return office_id


def _read_bytes(path: Path, *, private: bool) -> bytes:
    """Read a key file; a private one must belong to us and be closed to group and others."""
    kind = "key file" if private else "public key file"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(f"{kind} {path} is missing") from None
    except OSError as exc:
        raise KeyFileError(f"cannot open {kind} {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)  # the open file itself: no race with a swap of the path
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{kind} {path} is not a regular file")
        if private:
            _check_private_permissions(path, info)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read {kind} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise KeyFileError(f"{kind} {path} is larger than {MAX_FILE_BYTES} bytes")
    return data


def _check_private_permissions(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise KeyFileError(
            f"key file {path} belongs to uid {info.st_uid}, not to this user (uid"
            f" {os.geteuid()}); a private key must belong to the account that uses it"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"key file {path} has mode {mode:04o}, open to group or others;"
            f" run: chmod 600 {shlex.quote(str(path))}"
        )


def _parse_json(path: Path, data: bytes) -> object:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:  # its message holds a position, never the content
        raise KeyFileError(f"{path} is not valid JSON (line {exc.lineno})") from None
    except RecursionError:
        raise KeyFileError(f"{path} is not valid JSON (nested too deeply)") from None


class _Fields:
    """A JSON object read from ``path``, whose typed getters raise a KeyFileError naming the
    file and the field, never the value (which may be key bytes)."""

    __slots__ = ("data", "path", "prefix")

    def __init__(self, path: Path, data: object, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise KeyFileError(f"{path}: {prefix.rstrip('.') or 'the document'} is not an object")
        self.path, self.data, self.prefix = path, data, prefix

    def _get(self, name: str) -> object:
        if name not in self.data:
            raise KeyFileError(f"{self.path}: {self.prefix}{name} is missing")
        return self.data[name]

    def only(self, *names: str) -> None:
        unknown = sorted(str(name) for name in self.data if name not in names)
        if unknown:
            raise KeyFileError(f"{self.path}: unknown field {self.prefix}{unknown[0]}")

    def object(self, name: str) -> _Fields:
        return _Fields(self.path, self._get(name), f"{self.prefix}{name}.")

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise KeyFileError(f"{self.path}: {self.prefix}{name} is not a string")
        return value

    def integer(self, name: str) -> int:
        value = self._get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise KeyFileError(f"{self.path}: {self.prefix}{name} is not an integer")
        return value

    def base64(self, name: str, length: int) -> bytes:
        try:
            value = base64.b64decode(self.text(name).encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise KeyFileError(f"{self.path}: {self.prefix}{name} is not base64") from None
        return self._sized(name, value, length)

    def hex(self, name: str, length: int) -> bytes:
        text = self.text(name)
        if not all(char in string.hexdigits for char in text) or len(text) % 2:
            raise KeyFileError(f"{self.path}: {self.prefix}{name} is not hex")
        return self._sized(name, bytes.fromhex(text), length)

    def _sized(self, name: str, value: bytes, length: int) -> bytes:
        if len(value) != length:
            raise KeyFileError(
                f"{self.path}: {self.prefix}{name} is {len(value)} bytes, expected {length}"
            )
        return value
