"""The secret files of ``liaison broker definitions``: office and link passwords, each one line
in its own 0600 file, kept across runs (a second run reads them instead of making new ones).
"""

from __future__ import annotations

import os
from pathlib import Path

from broker.errors import KeyFileError
from broker.topology import OfficeRoute, SiteLink, link_user, new_password

SECRET_SUFFIX = ".amqp-password"  # noqa: S105 - a file name suffix, not a password
MAX_SECRET_BYTES = 1024


def secret_path(out: Path, office_id: str) -> Path:
    """Where ``definitions --out`` keeps an office's broker password (one line, mode 0600)."""
    return out / "secrets" / f"{office_id}{SECRET_SUFFIX}"


def link_secret_path(link_secrets: Path, link: SiteLink, *, user_prefix: str = "") -> Path:
    """Where a link user's password lives: ``<link_secrets>/<to site>/<user>.amqp-password``.
    The far site hashes it into its definitions; the near site puts it in its shovel's URI."""
    user = link_user(link.from_site, user_prefix=user_prefix)
    return link_secrets / link.to_site / f"{user}{SECRET_SUFFIX}"


def read_secret(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise KeyFileError(
                f"{path} is readable by others (mode {mode & 0o777:o}); chmod 600 it"
            )
        with path.open("rb") as fh:
            raw = fh.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        password = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not UTF-8 text") from None
    if not password or len(raw) > MAX_SECRET_BYTES or not password.isprintable():
        raise KeyFileError(f"{path} does not hold a password on one line")
    return password


def write_private(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` to ``path`` mode 0600: never over an existing file if ``exclusive``,
    else through a temporary file renamed into place."""
    target = path if exclusive else path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(target, flags, 0o600)
        os.fchmod(fd, 0o600)  # a leftover temporary file would keep its old mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if not exclusive:
            target.replace(path)
    except OSError as exc:
        raise KeyFileError(f"cannot write {path}: {exc.strerror}") from None


def office_passwords(
    routes: tuple[OfficeRoute, ...], out: Path
) -> tuple[dict[str, str], list[str]]:
    """Each office's password: kept from its secret file, or new (written mode 0600)."""
    secrets_dir = out / "secrets"
    try:
        secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"cannot create {secrets_dir}: {exc.strerror}") from None
    passwords: dict[str, str] = {}
    created: list[str] = []
    for route in routes:
        path = secret_path(out, route.office_id)
        if path.exists():
            passwords[route.office_id] = read_secret(path)
        else:
            passwords[route.office_id] = new_password()
            write_private(path, passwords[route.office_id].encode("ascii"), exclusive=True)
            created.append(route.office_id)
    return passwords, created


def link_passwords(
    links: list[SiteLink], link_secrets: Path, user_prefix: str
) -> dict[tuple[str, str], str]:
    """Each link user's password: kept from its file under ``link_secrets``, or new (written
    mode 0600). The first site's run makes it; the other site's run must read the same file."""
    passwords: dict[tuple[str, str], str] = {}
    for link in links:
        path = link_secret_path(link_secrets, link, user_prefix=user_prefix)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyFileError(f"cannot create {path.parent}: {exc.strerror}") from None
        if path.exists():
            password = read_secret(path)
        else:
            password = new_password()
            write_private(path, password.encode("ascii"), exclusive=True)
        passwords[(link.from_site, link.to_site)] = password
    return passwords
