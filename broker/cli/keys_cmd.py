"""``liaison keys``: generate, show and check an office's key pairs.

The passphrase options (``passphrase_options``, ``PassphraseSource``) are shared with every
command that loads private keys. Only the CLI reads environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table

from broker.cli.output import emit, json_option
from broker.errors import KeyFileError
from broker.keys.files import (
    Kdf,
    existing_key_files,
    is_protected,
    load_office_keys,
    load_public_keys,
    public_keys_document,
    read_key_headers,
    save_office_keys,
)
from broker.keys.model import KeyAlg, OfficeKeys, OfficePublicKeys

F = TypeVar("F", bound=Callable[..., Any])

# The argon2id cost for new protected keys; tests lower it to Kdf.minimum().
GENERATE_KDF = Kdf()
MAX_PASSPHRASE_BYTES = 1024


# ---------------------------------------------------------------- passphrase sources


@dataclass(frozen=True, slots=True)
class PassphraseSource:
    """Where the passphrase comes from: at most one of a file descriptor, an environment
    variable's name, or a prompt."""

    fd: int | None = None
    env: str | None = None
    ask: bool = False

    def __post_init__(self) -> None:
        if sum([self.fd is not None, self.env is not None, self.ask]) > 1:
            raise click.UsageError(
                "give only one of --passphrase-fd, --passphrase-env and --ask-passphrase"
            )

    def read(self, *, confirm: bool) -> bytes | None:
        """The passphrase as UTF-8 bytes, or None when no source was given."""
        if self.fd is not None:
            return _read_fd_line(self.fd)
        if self.env is not None:
            value = os.environb.get(os.fsencode(self.env))
            if value is None:
                raise KeyFileError(f"environment variable {self.env} is not set")
            if not value:
                raise KeyFileError(f"environment variable {self.env} is empty")
            return value
        if self.ask:
            typed: str = click.prompt(
                "Key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
            )
            return typed.encode("utf-8")
        return None


def _read_fd_line(fd: int) -> bytes:
    """One line from ``fd``, without its line ending; read byte by byte so that nothing after
    the line is consumed."""
    line = bytearray()
    while True:
        try:
            byte = os.read(fd, 1)
        except OSError as exc:
            raise KeyFileError(
                f"cannot read the passphrase from file descriptor {fd}: {exc.strerror}"
            ) from None
        if byte in (b"", b"\n"):
            break
        line += byte
        if len(line) > MAX_PASSPHRASE_BYTES:
            raise KeyFileError(
                f"the passphrase on file descriptor {fd} is longer than"
                f" {MAX_PASSPHRASE_BYTES} bytes"
            )
    passphrase = bytes(line).removesuffix(b"\r")
    if not passphrase:
        raise KeyFileError(f"no passphrase on file descriptor {fd} (an empty line)")
    return passphrase


def passphrase_options(func: F) -> F:
    """Add --passphrase-fd, --passphrase-env and --ask-passphrase to a command."""
    func = click.option(
        "--ask-passphrase",
        is_flag=True,
        help="Prompt for the passphrase (hidden input; twice when it is new).",
    )(func)
    func = click.option(
        "--passphrase-env",
        metavar="NAME",
        help="Read the passphrase from the environment variable NAME (its name, not its value).",
    )(func)
    return click.option(
        "--passphrase-fd",
        type=click.IntRange(min=0),
        metavar="N",
        help="Read the passphrase from the first line of file descriptor N (e.g. 3 with 3<file).",
    )(func)


# ---------------------------------------------------------------- commands


@click.group()
def keys() -> None:
    """Generate, show and check an office's signing and encryption key pairs.

    \b
      liaison keys generate --office CN-YN-BLO-HK --out keys/ --ask-passphrase
      liaison keys show keys/public.json            fingerprints to compare by phone
      liaison keys check keys/ --ask-passphrase     can the daemon load these keys?

    Key files are described in docs/keys.md.
    """


@keys.command()
@click.option("--office", required=True, metavar="ID", help="The office id, e.g. CN-YN-BLO-HK.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Folder for the key files; created mode 0700 if it does not exist.",
)
@click.option("--pq", is_flag=True, help="Also make an ML-KEM-768 + X25519 (post-quantum) key.")
@click.option("--force", is_flag=True, help="Replace existing key files in DIR (irreversible).")
@passphrase_options
@json_option
def generate(
    *,
    office: str,
    out: Path,
    pq: bool,
    force: bool,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Make an office's key pairs and write them to DIR.

    \b
    Writes, each private file mode 0600 and never readable by others:
      signing.key      Ed25519, signs every message the office sends
      encryption.key   X25519, opens messages sent to the office
      hybrid.key       ML-KEM-768 + X25519, only with --pq
      public.json      the public keys: hand this to the directory administrators

    \b
    Protect the private keys with a passphrase (argon2id + XSalsa20-Poly1305):
      liaison keys generate --office CN-YN-BLO-HK --out keys/ --ask-passphrase
      liaison keys generate --office CN-YN-BLO-HK --out keys/ --passphrase-fd 3 3<pass.txt
      LIAISON_KEY_PASSPHRASE=... liaison keys generate --office CN-YN-BLO-HK --out keys/ \\
          --passphrase-env LIAISON_KEY_PASSPHRASE

    Existing keys are never overwritten without --force. Afterwards, read the fingerprints
    to the administrators by phone ('liaison keys show DIR').
    """
    source = PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase)
    if not force and (existing := existing_key_files(out)):
        raise KeyFileError(
            f"{existing[0]} already exists; refusing to overwrite keys"
            " (give --force to replace them)"
        )
    passphrase = source.read(confirm=True)
    office_keys = OfficeKeys.generate(office, pq=pq)
    written = save_office_keys(
        office_keys, out, passphrase=passphrase, kdf=GENERATE_KDF, force=force
    )
    public = office_keys.public()
    data = _public_report(public, out) | {
        "files": [str(path) for path in written],
        "protected": passphrase is not None,
    }

    def human(console: Console) -> None:
        console.print(f"Generated the keys of office [bold]{public.office_id}[/] in {out}")
        console.print(_key_table(public))
        console.print(
            "Private keys: passphrase-protected."
            if passphrase is not None
            else "Private keys: NOT passphrase-protected; guard the folder (see docs/keys.md)."
        )
        console.print(
            f"Next: give {out / 'public.json'} to the directory administrators and read them"
            " the fingerprints by phone."
        )

    emit(data, as_json=as_json, human=human)


@keys.command()
@click.argument("path", type=click.Path(path_type=Path), metavar="DIR_OR_PUBLIC_JSON")
@json_option
def show(*, path: Path, as_json: bool) -> None:
    """Show an office's public keys and their fingerprints; needs no passphrase.

    \b
      liaison keys show keys/                 a key folder
      liaison keys show CN-YN-BLO-HK.json     a public.json received from an office

    Each fingerprint is the key id in groups of four hex digits, for two officers to compare by
    phone. Given a key folder, also checks that public.json names the keys in the private key
    files (their public headers only: nothing is decrypted).
    """
    public = load_public_keys(path)
    checked = path.is_dir() and _check_headers(path, public)
    data = _public_report(public, path) | {"checked_against_private_key_files": checked}

    def human(console: Console) -> None:
        console.print(f"Office [bold]{public.office_id}[/]  ({path})")
        console.print(_key_table(public))
        if checked:
            console.print("public.json matches the private key files in this folder.")

    emit(data, as_json=as_json, human=human)


@keys.command()
@click.argument("key_dir", type=click.Path(path_type=Path), metavar="DIR")
@passphrase_options
@json_option
def check(
    *,
    key_dir: Path,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Load the private keys in DIR as the daemon will, and report whether they are sound.

    \b
    Checks the files' owner and mode (0600), the passphrase, that each key matches its key id,
    that all belong to one office, and that public.json lists them:
      liaison keys check keys/ --ask-passphrase

    Exits 0 when the keys load, 4 when they do not (the message says which file and why).
    """
    source = PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase)
    passphrase = source.read(confirm=False) if is_protected(key_dir) else None
    public = load_office_keys(key_dir, passphrase=passphrase).public()
    data = _public_report(public, key_dir) | {"loaded": True, "protected": passphrase is not None}

    def human(console: Console) -> None:
        console.print(f"The keys of office [bold]{public.office_id}[/] in {key_dir} load.")
        console.print(_key_table(public))

    emit(data, as_json=as_json, human=human)


# ---------------------------------------------------------------- rendering


def _check_headers(key_dir: Path, public: OfficePublicKeys) -> bool:
    """Compare public.json with the private key files' headers; False if there are none."""
    if not any(path.suffix == ".key" for path in existing_key_files(key_dir)):
        return False
    ids = {
        KeyAlg.ED25519: public.signing_key_id,
        KeyAlg.X25519: public.encryption_key_id,
        KeyAlg.MLKEM768_X25519: public.hybrid_key_id,
    }
    headers = read_key_headers(key_dir)
    for header in headers:
        if header.office_id != public.office_id or header.key_id != ids[header.alg]:
            raise KeyFileError(f"{key_dir / 'public.json'} does not list the key in {header.path}")
    if public.hybrid is not None and len(headers) < len(ids):
        raise KeyFileError(f"{key_dir / 'public.json'} lists a hybrid key that has no hybrid.key")
    return True


def _public_report(public: OfficePublicKeys, source: Path) -> dict[str, Any]:
    document = public_keys_document(public)
    return {"office": public.office_id, "source": str(source), "keys": document["keys"]}


def _key_table(public: OfficePublicKeys) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("key", no_wrap=True)
    table.add_column("algorithm", no_wrap=True)
    table.add_column("key id (fingerprint)", no_wrap=True, min_width=39)
    for use, entry in public_keys_document(public)["keys"].items():
        table.add_row(use, entry["alg"], entry["fingerprint"])
    return table
