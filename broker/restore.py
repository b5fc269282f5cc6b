"""Restore of an office's data folder from a backup (:mod:`broker.backup`;
docs/operations.md, "Backup and restore").

Refuses a data folder a daemon holds (its lock is taken for the whole restore, so none starts
meanwhile), and one that holds data unless forced (then the files it replaces are moved into
``replaced-<time>-*/``, never deleted). Accepts only regular files with the names a backup
holds (no absolute paths, ``..``, links or other names) and checks each against the
manifest's SHA-256 while extracting into a temporary folder inside the data folder; then
verifies the restored log in full (tree, signed checkpoints, every envelope) and that it is
the log the manifest describes. Only then is anything put in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from broker.backup import DATABASES, DIRECTORY_FILES, FORMAT, MANIFEST, VERSION
from broker.config import OfficeConfig
from broker.daemon.office import LOCK_FILE, LOG_FILE, limits_of
from broker.daemon.upkeep import FolderLock
from broker.directory.store import load_office_directory
from broker.durable import fsync_dir
from broker.errors import ConfigError, InputError, IntegrityError
from broker.exchange_log import DirectoryLogKeys, ExchangeLog, VerifyReport
from broker.exchange_log.envelope_store import ENVELOPES_DIR
from broker.exchange_log.verify import verify_log

MAX_MANIFEST_BYTES: Final = 256 << 20  # a manifest line per envelope: millions fit
_CHUNK: Final = 1 << 20
# The only member names a backup may hold; anything else is refused before a byte is written.
_MEMBER: Final = re.compile(
    r"(office\.db|exchange-log\.db|directory-state\.json|directory-accepted\.bin"
    r"|manifest\.json|envelopes/[0-9a-f]{2}/[0-9a-f]{62})"
)
# What a restore replaces (a database's -wal and -shm must go with it: SQLite would apply an
# old WAL to the restored file).
REPLACED: Final = (
    *(f"{db}{suffix}" for db in DATABASES for suffix in ("", "-wal", "-shm", "-journal")),
    ENVELOPES_DIR,
    *DIRECTORY_FILES,
)


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did: the manifest it trusted, the log's verification, and where the
    files it replaced went (None when the folder held none)."""

    manifest: dict[str, Any]
    report: VerifyReport
    replaced: Path | None

    def to_json(self) -> dict[str, Any]:
        return {
            "office_id": self.manifest["office_id"],
            "created_at": self.manifest["created_at"],
            "files": len(self.manifest["files"]),
            "log": self.manifest["log"],
            "verify": self.report.to_json(),
            "replaced": None if self.replaced is None else str(self.replaced),
        }


def _shown(name: str) -> str:
    return repr(name[:120])


def _member_problem(member: tarfile.TarInfo) -> str:
    name = member.name
    if name.startswith("/") or "\\" in name:
        return "an absolute path"
    if ".." in name.split("/"):
        return "a path leaving the data folder (..)"
    if member.issym() or member.islnk():
        return "a link"
    if not member.isreg():
        return "not a regular file"
    if not _MEMBER.fullmatch(name):
        return "not a file a Liaison backup holds"
    return ""


def _manifest(raw: bytes, archive: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise IntegrityError(f"{archive}: the manifest is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IntegrityError(f"{archive} is not a Liaison backup (manifest format)")
    if manifest.get("version") != VERSION:
        raise IntegrityError(f"{archive}: backup version {manifest.get('version')!r} unknown")
    files, log = manifest.get("files"), manifest.get("log")
    if not isinstance(files, dict) or not isinstance(log, dict):
        raise IntegrityError(f"{archive}: the manifest lacks its file list or log summary")
    for name, entry in files.items():
        ok = isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
        if not ok or not isinstance(entry.get("bytes"), int):
            raise IntegrityError(f"{archive}: the manifest's entry for {_shown(name)} is malformed")
    return manifest


def _copy_member(source: IO[bytes], target: Path, *, limit: int) -> tuple[str, int]:
    """Copy at most ``limit`` + 1 bytes (one more shows the member is larger than listed)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    digest, size = hashlib.sha256(), 0
    with os.fdopen(os.open(target, flags, 0o600), "wb") as handle:
        while size <= limit and (chunk := source.read(min(_CHUNK, limit + 1 - size))):
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest(), size


def extract_backup(archive: Path, into: Path) -> dict[str, Any]:
    """Check ``archive`` and write its files into the empty folder ``into``; the manifest.
    IntegrityError for a member that is not a backup's file, or a hash that does not match."""
    try:
        tar = tarfile.open(archive, mode="r:*")  # noqa: SIM115 - closed below; .gz, .xz too
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{archive} is not a Liaison backup (not a tar file: {exc})") from None
    with tar:
        members = tar.getmembers()
        seen: set[str] = set()
        for member in members:
            problem = _member_problem(member)
            if problem:
                raise IntegrityError(
                    f"{archive}: member {_shown(member.name)} is {problem}; nothing was restored"
                )
            if member.name in seen:
                raise IntegrityError(f"{archive}: member {_shown(member.name)} appears twice")
            seen.add(member.name)
        if MANIFEST not in seen:
            raise IntegrityError(f"{archive} is not a Liaison backup (no {MANIFEST})")
        manifest_member = tar.getmember(MANIFEST)
        if manifest_member.size > MAX_MANIFEST_BYTES:
            raise IntegrityError(f"{archive}: the manifest is too large")
        handle = tar.extractfile(manifest_member)
        assert handle is not None  # noqa: S101 - a regular file, checked above
        manifest = _manifest(handle.read(), archive)
        listed = set(manifest["files"])
        present = seen - {MANIFEST}
        if listed != present:
            odd = sorted(listed ^ present)[0]
            raise IntegrityError(
                f"{archive}: {_shown(odd)} is {'missing' if odd in listed else 'not listed'}"
                " (the archive and its manifest disagree)"
            )
        for member in members:
            if member.name == MANIFEST:
                continue
            expected = manifest["files"][member.name]
            if member.size != expected["bytes"]:  # checked before a byte is decompressed
                raise IntegrityError(
                    f"{archive}: {_shown(member.name)} is not the size the manifest lists;"
                    " nothing was restored"
                )
            source = tar.extractfile(member)
            assert source is not None  # noqa: S101 - a regular file, checked above
            digest, size = _copy_member(source, into / member.name, limit=expected["bytes"])
            if digest != expected["sha256"] or size != expected["bytes"]:
                raise IntegrityError(
                    f"{archive}: {_shown(member.name)} does not match its SHA-256 in the"
                    " manifest (damaged or altered); nothing was restored"
                )
    return manifest


def _put_in_place(staged: Path, data_dir: Path, existing: list[str], now: datetime) -> Path | None:
    aside = None
    if existing:
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        aside = Path(tempfile.mkdtemp(prefix=f"replaced-{stamp}-", dir=data_dir))
        for name in existing:
            (data_dir / name).replace(aside / name)
    for name in (*DATABASES, ENVELOPES_DIR, *DIRECTORY_FILES):  # not the checks' -wal, -shm
        if (staged / name).exists():
            (staged / name).replace(data_dir / name)
    fsync_dir(data_dir)
    return aside


def verify_restored(
    config: OfficeConfig, *, now: datetime, workers: int | None = None
) -> Callable[[Path], VerifyReport]:
    """The check ``restore_office`` runs on a restored folder: ``liaison audit verify --full``
    of its log, with the office's trust directory as the restored folder accepts it."""

    def verify(folder: Path) -> VerifyReport:
        directory = load_office_directory(
            config.directory.file, folder, pinned_root=config.directory.pinned_root, now=now
        ).directory
        return verify_log(
            folder / LOG_FILE,
            log_keys=DirectoryLogKeys(directory),
            directory=directory,
            envelopes=folder / ENVELOPES_DIR,
            full=True,
            workers=workers,
            limits=limits_of(config),
        )

    return verify


def restore_office(
    archive: Path,
    data_dir: Path,
    *,
    office_id: str,
    verify: Callable[[Path], VerifyReport],
    force: bool,
    now: datetime,
) -> Restored:
    """Restore ``archive`` into ``data_dir`` (see the module docstring). ``verify`` checks
    the log of a restored folder (its argument) before it is put in place."""
    lock = FolderLock(data_dir / LOCK_FILE)
    lock.take()  # ConfigError while a daemon runs on this folder; and none starts meanwhile
    try:
        existing = [name for name in REPLACED if os.path.lexists(data_dir / name)]
        if existing and not force:
            raise ConfigError(
                f"{data_dir} already holds an office's data ({', '.join(existing[:3])}); restore"
                " with --force to move it into replaced-<time>/ and put the backup in its place"
            )
        staged = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
        try:
            manifest = extract_backup(archive, staged)
            if manifest.get("office_id") != office_id:
                raise ConfigError(
                    f"{archive} is a backup of {manifest.get('office_id')!r}, not of {office_id}"
                )
            report = verify(staged)
            if not report.ok:
                raise IntegrityError(
                    f"the restored exchange log has {len(report.problems)} problem(s)"
                    f" ({report.problems[0].code.value} at {report.problems[0].location()});"
                    " nothing was restored"
                )
            with ExchangeLog.open_existing(staged / LOG_FILE) as log:
                size = log.size
                root = log.root(size).hex()
            if (size, root) != (manifest["log"].get("entries"), manifest["log"].get("root")):
                raise IntegrityError(
                    "the restored exchange log is not the one the manifest describes"
                    f" ({size} entries); nothing was restored"
                )
            replaced = _put_in_place(staged, data_dir, existing, now)
            report = dataclasses.replace(report, path=str(data_dir / LOG_FILE))
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    finally:
        lock.release()
    return Restored(manifest, report, replaced)


__all__ = ["Restored", "extract_backup", "restore_office", "verify_restored"]
