"""One office as its configuration describes it: keys, directory, limits, files. An I/O edge
(it reads the files the configuration names); the CLI reads environment variables, not this.

Everything of an office lives under ``office.data_dir``::

    office.db             outbox, deliveries, inbox, replay memory (broker.office_store)
    exchange-log.db       the tamper-evident exchange log (broker.exchange_log)
    envelopes/            every envelope sent, received or rejected, by SHA-256
    spool/in/             the hand-over: <message-id>.json per received enquiry or response
    daemon-status.json    the running daemon's health, rewritten every few seconds
    daemon.lock           held by the running daemon (one per data folder)
    directory-*.{json,bin} the last accepted trust directory (broker.directory.store)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from broker.amqp.settings import AmqpSettings, parse_broker_url
from broker.config import OfficeConfig
from broker.directory import Directory
from broker.directory.store import OfficeDirectory, load_office_directory
from broker.durable import FileBatch
from broker.envelope import Limits
from broker.errors import ConfigError, IntegrityError, KeyFileError
from broker.exchange_log import EnvelopeStore, store_beside
from broker.keys.files import is_protected, load_office_keys
from broker.keys.model import OfficeKeys
from broker.topology import amqp_user

STORE_FILE: Final = "office.db"
LOG_FILE: Final = "exchange-log.db"
STATUS_FILE: Final = "daemon-status.json"
LOCK_FILE: Final = "daemon.lock"
MAX_SECRET_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class OfficePaths:
    """Where an office's files are (see the module docstring)."""

    data_dir: Path

    @property
    def store(self) -> Path:
        return self.data_dir / STORE_FILE

    @property
    def log(self) -> Path:
        return self.data_dir / LOG_FILE

    @property
    def envelopes(self) -> Path:
        return store_beside(self.log)

    @property
    def status(self) -> Path:
        return self.data_dir / STATUS_FILE

    @property
    def lock(self) -> Path:
        return self.data_dir / LOCK_FILE

    def envelope_store(self, files: FileBatch | None = None) -> EnvelopeStore:
        return EnvelopeStore(self.envelopes, files=files)


def limits_of(config: OfficeConfig) -> Limits:
    section = config.limits
    return Limits(
        max_envelope_bytes=section.max_envelope_bytes,
        max_recipients=section.max_recipients,
        max_clock_skew=timedelta(seconds=section.max_clock_skew_seconds),
        max_lifetime=timedelta(days=section.max_lifetime_days),
    )


@dataclass(frozen=True, slots=True)
class Office:
    """An office ready to work: its configuration, private keys, accepted directory, limits."""

    config: OfficeConfig
    keys: OfficeKeys = field(repr=False)
    directory: Directory = field(repr=False)
    limits: Limits
    # Set when the configured directory file was refused and the last accepted one is used.
    directory_refusal: IntegrityError | None = None

    @property
    def office_id(self) -> str:
        return self.config.office.id

    @property
    def paths(self) -> OfficePaths:
        return OfficePaths(self.config.office.data_dir)

    @property
    def user_prefix(self) -> str:
        return self.config.amqp.user_prefix

    def with_directory(self, loaded: OfficeDirectory) -> Office:
        return dataclasses.replace(
            self, directory=loaded.directory, directory_refusal=loaded.refusal
        )


def needs_passphrase(config: OfficeConfig) -> bool:
    return is_protected(config.keys.dir)


def load_directory(config: OfficeConfig, *, now: datetime) -> OfficeDirectory:
    """The directory the office runs on (docs/directory.md, "State")."""
    return load_office_directory(
        config.directory.file,
        config.office.data_dir,
        pinned_root=config.directory.pinned_root,
        now=now,
    )


def load_office(config: OfficeConfig, *, passphrase: bytes | None, now: datetime) -> Office:
    """Load the keys (KeyFileError) and the directory (IntegrityError when refused with
    nothing to fall back on); the keys must be the configured office's."""
    keys = load_office_keys(config.keys.dir, passphrase=passphrase)
    if keys.office_id != config.office.id:
        raise KeyFileError(
            f"the keys in {config.keys.dir} are {keys.office_id}'s, not {config.office.id}'s"
        )
    loaded = load_directory(config, now=now)
    if loaded.directory.office(config.office.id) is None:
        raise ConfigError(f"the directory does not list this office ({config.office.id})")
    return Office(config, keys, loaded.directory, limits_of(config), loaded.refusal)


def read_secret(path: Path) -> str:
    """A one-line secret file (the broker password): mode 0600, no trailing newline kept."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise ConfigError(f"{path} is readable by others (mode {mode & 0o777:o}); chmod 600 it")
        with path.open("rb") as handle:
            raw = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_SECRET_BYTES:
        raise ConfigError(f"{path} is too large to be a password file")
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None


def amqp_settings(config: OfficeConfig) -> AmqpSettings:
    """The link's settings: log in, and stamp user_id, as the office's broker user."""
    user = amqp_user(config.office.id, user_prefix=config.amqp.user_prefix)
    for url in config.amqp.urls:
        named = parse_broker_url(url).username
        if named is not None and named != user:
            raise ConfigError(
                f"amqp.urls names user {named!r}, but office {config.office.id} is broker user"
                f" {user!r} (see amqp.user_prefix)"
            )
    password = None if config.amqp.password_file is None else read_secret(config.amqp.password_file)
    settings = AmqpSettings.from_config(config.amqp, password)
    return dataclasses.replace(
        settings, username=user, connection_name=f"liaison-daemon:{config.office.id}"
    )
