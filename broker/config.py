"""An office's configuration: a TOML file loaded into frozen dataclasses, every problem reported.

Only the CLI reads environment variables; this module reads the file it is given and nothing
else. Secrets are never values here: keys, broker passwords and passphrases are referenced by the
path of a file (or the *name* of an environment variable), so a configuration can be printed.

A minimal file (paths are relative to the file's own folder)::

    [office]
    id = "CN-YN-BLO-HK"
    data_dir = "data"

    [keys]
    dir = "keys/CN-YN-BLO-HK"

    [directory]
    file = "directory.bin"

    [amqp]
    urls = ["amqp://cn-yn-blo-hk@127.0.0.1:5672/liaison"]
    password_file = "secrets/amqp-password"
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from broker.errors import ConfigError, ConfigProblem

OFFICE_ID = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{2,10}){1,4}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
USER_PREFIX = re.compile(r"^([a-z0-9][a-z0-9_.-]{0,31})?$")
MAX_CONFIG_BYTES = 1 << 20

Check = Callable[[Any], str | None]  # returns a problem, or None when the value is fine


def _office_id(value: str) -> str | None:
    if OFFICE_ID.fullmatch(value):
        return None
    return f"{value!r} is not an office id (like CN-YN-BLO-HK: country, then 1-4 parts)"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _env_name(value: str | None) -> str | None:
    if value is None or ENV_NAME.fullmatch(value):
        return None
    return f"{value!r} is not an environment variable name"


def _amqp_urls(value: tuple[str, ...]) -> str | None:
    if not value:
        return "needs at least one broker URL"
    for url in value:
        parts = urlsplit(url)
        if parts.scheme not in ("amqp", "amqps"):
            return f"{url!r}: scheme must be amqp:// or amqps://"
        if parts.password is not None:
            # The URL ends up in logs and process listings; the password must live in a file.
            return "a URL must not contain a password; put it in amqp.password_file"
        if not parts.hostname:
            return f"{url!r}: no host"
    return None


def _user_prefix(value: str) -> str | None:
    # The same rule as broker.topology.names.check_user_prefix (which imports this module).
    if USER_PREFIX.fullmatch(value):
        return None
    return f"{value!r} is not a user-name prefix (lower-case letters, digits, . _ -; at most 32)"


def _one_of(*allowed: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _setting(default: Any = dataclasses.MISSING, *, check: Check | None = None) -> Any:
    meta = {"check": check} if check else {}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class OfficeSection:
    id: str = _setting(check=_office_id)
    # Where the outbox, inbox, exchange log and envelope store live; created on first start.
    data_dir: Path = _setting(Path("data"))


@dataclass(frozen=True, slots=True)
class KeysSection:
    # Folder written by `liaison keys generate` (private key files must be mode 0600).
    dir: Path = _setting()
    # Name (not value) of an environment variable holding the key passphrase, if keys are protected.
    passphrase_env: str | None = _setting(None, check=_env_name)


@dataclass(frozen=True, slots=True)
class DirectorySection:
    # The signed trust directory this office runs on.
    file: Path = _setting()
    # The pinned initial root of trust (administrators' keys), set once at installation.
    pinned_root: Path | None = _setting(None)


@dataclass(frozen=True, slots=True)
class AmqpSection:
    # One or more brokers of this office's site; the client fails over between them in order.
    urls: tuple[str, ...] = _setting(check=_amqp_urls)
    # File holding the office's broker password (mode 0600); None for brokers with other auth.
    password_file: Path | None = _setting(None)
    # Seconds between AMQP heartbeats; pika closes a connection after two missed ones.
    heartbeat: int = _setting(30, check=_positive)
    # Unacknowledged deliveries the daemon holds at once: enough to hide round trips, not more.
    prefetch: int = _setting(64, check=_positive)
    # Seconds a publish may block on a broker resource alarm before the connection is dropped.
    blocked_connection_timeout: float = _setting(60.0, check=_positive)
    # Prefix of the broker user names ("" in production): office X logs in, and stamps its
    # AMQP user_id, as broker.topology.amqp_user(X, user_prefix=...). Test sites set one.
    user_prefix: str = _setting("", check=_user_prefix)
    # amqps:// only: the CA that signed the broker's certificate (default: the system's), and a
    # client certificate with its key (mode 0600) when the broker wants one.
    ca_file: Path | None = _setting(None)
    cert_file: Path | None = _setting(None)
    key_file: Path | None = _setting(None)


@dataclass(frozen=True, slots=True)
class LimitsSection:
    # Envelopes larger than this are refused before they are parsed.
    max_envelope_bytes: int = _setting(16 * 1024 * 1024, check=_positive)
    # A missing-child alert to every border office fits comfortably.
    max_recipients: int = _setting(64, check=_positive)
    # How far a sender's clock may be ahead of ours.
    max_clock_skew_seconds: int = _setting(300, check=_positive)
    # The longest validity an envelope may claim.
    max_lifetime_days: int = _setting(30, check=_positive)


@dataclass(frozen=True, slots=True)
class LogSection:
    # "json" for production (one object per line), "console" for a person, "auto" picks by tty.
    format: Literal["auto", "json", "console"] = _setting(
        "auto", check=_one_of("auto", "json", "console")
    )
    level: str = _setting("info", check=_one_of("debug", "info", "warning", "error"))


def host_port(value: str, *, setting: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets or not) as (host, port), port 0 to 65535;
    ConfigError naming ``setting`` otherwise. The one parser of every ``listen`` setting."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ConfigError(f"{setting}: {value!r} is not HOST:PORT")
    return host, int(port)


def _listen(value: str) -> str | None:
    if value == "":
        return None
    try:
        _host, port = host_port(value, setting="listen")
    except ConfigError:
        port = 0
    return None if port > 0 else f"{value!r} is not HOST:PORT (like 127.0.0.1:9464)"


def _http_url(value: str) -> str | None:
    if value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} is not an http:// or https:// URL"
    if parts.password is not None:
        return "a URL must not contain a password; put a token in handover.token_file"
    return None


@dataclass(frozen=True, slots=True)
class HandoverSection:
    """How received messages reach the office's own system, and its answers come back
    (docs/adapters.md, "Transports")."""

    # The partner format of the office's own system: a registered adapter (`liaison adapters
    # list`), or "canonical" for Liaison's canonical JSON (docs/messages.md).
    adapter: str = _setting("canonical")
    # The adapter's form ("xlsx" or "csv" for the sheet); "" for the adapter's default.
    variant: str = _setting("")
    # "spool": files in deliver_dir; "http": POST to url.
    transport: Literal["spool", "http"] = _setting("spool", check=_one_of("spool", "http"))
    # spool: where received messages are written; default <data_dir>/spool/in.
    deliver_dir: Path | None = _setting(None)
    # A folder the office's system drops answers and new enquiries into, in its format;
    # the daemon moves each file to done/ or failed/ (with a reason file) beside it.
    pickup_dir: Path | None = _setting(None)
    # Seconds between looks at pickup_dir.
    pickup_interval: float = _setting(1.0, check=_positive)
    # Fields the office cannot do without: a hand-over whose format would lose one of them
    # (or a field the adapter itself marks essential) is refused, not made incomplete.
    # Dotted paths without indices: "attachments", "places.coordinates", "persons.documents".
    essential: tuple[str, ...] = _setting(())
    # http: the partner system's endpoint. TLS is always verified: against the system's
    # trusted CAs, or only against ca_file when it is given (a private CA).
    url: str = _setting("", check=_http_url)
    # http: a file holding a bearer token for the endpoint (mode 0600).
    token_file: Path | None = _setting(None)
    ca_file: Path | None = _setting(None)
    # http: a client certificate and its key (mode 0600) when the endpoint wants mTLS.
    cert_file: Path | None = _setting(None)
    key_file: Path | None = _setting(None)
    timeout_seconds: float = _setting(10.0, check=_positive)
    # Attempts per hand-over before it waits for the next chase (with backoff between them).
    attempts: int = _setting(3, check=_positive)


@dataclass(frozen=True, slots=True)
class PartnerApiSection:
    """A small local HTTP endpoint through which the office's system submits its files
    (docs/adapters.md, "Transports"); off unless ``listen`` is set."""

    # HOST:PORT to listen on; "" turns the endpoint off.
    listen: str = _setting("", check=_listen)
    # A file holding the bearer token callers must send (mode 0600).
    token_file: Path | None = _setting(None)
    # TLS for the endpoint; with client_ca_file, callers must present a certificate (mTLS).
    cert_file: Path | None = _setting(None)
    key_file: Path | None = _setting(None)
    client_ca_file: Path | None = _setting(None)


@dataclass(frozen=True, slots=True)
class MetricsSection:
    # HOST:PORT of the daemon's Prometheus metrics and /healthz, /readyz; "" turns it off.
    listen: str = _setting("", check=_listen)


@dataclass(frozen=True, slots=True)
class OfficeConfig:
    """A whole configuration file. Relative paths are resolved against the file's folder."""

    source: Path
    office: OfficeSection
    keys: KeysSection
    directory: DirectorySection
    amqp: AmqpSection
    limits: LimitsSection = field(default_factory=LimitsSection)
    log: LogSection = field(default_factory=LogSection)
    handover: HandoverSection = field(default_factory=HandoverSection)
    partner_api: PartnerApiSection = field(default_factory=PartnerApiSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)

    @property
    def deliver_dir(self) -> Path:
        """Where the spool transport hands messages over: ``handover.deliver_dir``, else
        ``<data_dir>/spool/in``."""
        return self.handover.deliver_dir or self.office.data_dir / "spool" / "in"


_SECTIONS: Mapping[str, type[Any]] = {
    "office": OfficeSection,
    "keys": KeysSection,
    "directory": DirectorySection,
    "amqp": AmqpSection,
    "limits": LimitsSection,
    "log": LogSection,
    "handover": HandoverSection,
    "partner_api": PartnerApiSection,
    "metrics": MetricsSection,
}
_OPTIONAL_SECTIONS = {"limits", "log", "handover", "partner_api", "metrics"}


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            Path: "a path (string)"}.get(tp, "a list of strings")  # fmt: skip


def _convert(tp: Any, raw: Any, base: Path) -> Any:
    """Convert a TOML value to the field's type, or raise TypeError with what was expected."""
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):  # X | None
        inner = next(a for a in get_args(tp) if a is not type(None))
        return _convert(inner, raw, base)
    if origin is Literal:
        if isinstance(raw, str):
            return raw
        raise TypeError("a string")
    if origin is tuple:
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            return tuple(raw)
        raise TypeError("a list of strings")
    if tp is Path:
        if isinstance(raw, str) and raw:
            return base / raw
        raise TypeError("a path (string)")
    if tp is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, tp) and not (tp is int and isinstance(raw, bool)):
        return raw
    raise TypeError(_type_name(tp))


def _section(name: str, cls: type[Any], raw: Any, base: Path, problems: list[ConfigProblem]) -> Any:
    if not isinstance(raw, dict):
        problems.append(ConfigProblem(name, "must be a table ([" + name + "])"))
        return None
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    problems.extend(
        ConfigProblem(f"{name}.{key}", "unknown setting (misspelt?)")
        for key in sorted(raw.keys() - known.keys())
    )
    for fname, f in known.items():
        path = f"{name}.{fname}"
        if fname not in raw:
            if f.default is dataclasses.MISSING:
                problems.append(ConfigProblem(path, "missing; this setting is required"))
            elif isinstance(f.default, Path):
                values[fname] = base / f.default
            continue
        try:
            value = _convert(hints[fname], raw[fname], base)
        except TypeError as exc:
            problems.append(ConfigProblem(path, f"must be {exc}"))
            continue
        check: Check | None = f.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            problems.append(ConfigProblem(path, problem))
            continue
        values[fname] = value
    try:
        return cls(**values)
    except TypeError:  # a required value was missing or wrong: already reported above
        return None


def parse_config(text: str, source: Path) -> OfficeConfig:
    """Parse TOML ``text`` read from ``source``; raise ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    base = source.parent
    problems: list[ConfigProblem] = []
    sections: dict[str, Any] = {}
    problems.extend(
        ConfigProblem(key, "unknown section (misspelt?)")
        for key in sorted(data.keys() - _SECTIONS.keys())
    )
    for name, cls in _SECTIONS.items():
        if name not in data:
            if name not in _OPTIONAL_SECTIONS:
                problems.append(ConfigProblem(name, f"missing section [{name}]"))
            continue
        sections[name] = _section(name, cls, data[name], base, problems)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(f"{source}: {len(problems)} {noun} in the configuration", problems)
    return OfficeConfig(source=source, **sections)


def load_config(path: Path) -> OfficeConfig:
    """Read and parse a configuration file."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes; not a configuration file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_config(text, path)


def check_files(config: OfficeConfig) -> list[ConfigProblem]:
    """Problems with the files a valid configuration refers to (existence and permissions)."""
    problems: list[ConfigProblem] = []
    if not config.keys.dir.is_dir():
        problems.append(ConfigProblem("keys.dir", f"no such folder: {config.keys.dir}"))
    elif not (config.keys.dir / "public.json").is_file():
        problems.append(
            ConfigProblem(
                "keys.dir", "holds no public.json; create it with 'liaison keys generate'"
            )
        )
    if not config.directory.file.is_file():
        problems.append(ConfigProblem("directory.file", f"no such file: {config.directory.file}"))
    pinned = config.directory.pinned_root
    if pinned is not None and not pinned.is_file():
        problems.append(ConfigProblem("directory.pinned_root", f"no such file: {pinned}"))
    secrets = {
        "amqp.password_file": config.amqp.password_file,
        "amqp.key_file": config.amqp.key_file,
        "handover.token_file": config.handover.token_file,
        "handover.key_file": config.handover.key_file,
        "partner_api.token_file": config.partner_api.token_file,
        "partner_api.key_file": config.partner_api.key_file,
    }
    for where, secret in secrets.items():
        if secret is None:
            continue
        if not secret.is_file():
            problems.append(ConfigProblem(where, f"no such file: {secret}"))
        elif secret.stat().st_mode & 0o077:
            mode = secret.stat().st_mode & 0o777
            problems.append(
                ConfigProblem(where, f"readable by others (mode {mode:o}); chmod 600 it")
            )
    for where, path in {
        "amqp.ca_file": config.amqp.ca_file,
        "amqp.cert_file": config.amqp.cert_file,
        "handover.ca_file": config.handover.ca_file,
        "handover.cert_file": config.handover.cert_file,
        "partner_api.cert_file": config.partner_api.cert_file,
        "partner_api.client_ca_file": config.partner_api.client_ca_file,
    }.items():
        if path is not None and not path.is_file():
            problems.append(ConfigProblem(where, f"no such file: {path}"))
    problems.extend(_handover_problems(config))
    return problems


def _handover_problems(config: OfficeConfig) -> list[ConfigProblem]:
    from adapters.base import available  # noqa: PLC0415 - the registry, only when checking

    section, problems = config.handover, []
    names = {"canonical", *available()}
    if section.adapter not in names:
        known = ", ".join(sorted(names))
        problems.append(
            ConfigProblem("handover.adapter", f"no adapter {section.adapter!r} ({known})")
        )
    if section.transport == "http" and not section.url:
        problems.append(ConfigProblem("handover.url", "required when handover.transport is http"))
    if (section.cert_file is None) != (section.key_file is None):
        problems.append(ConfigProblem("handover.cert_file", "give both cert_file and key_file"))
    deliver = config.deliver_dir
    pickup = section.pickup_dir
    if pickup is not None and (
        pickup == deliver or pickup in deliver.parents or deliver in pickup.parents
    ):
        problems.append(
            ConfigProblem(
                "handover.pickup_dir",
                "must be apart from the hand-over folder (else received messages go out again)",
            )
        )
    api = config.partner_api
    if api.listen and api.token_file is None and api.client_ca_file is None:
        problems.append(
            ConfigProblem(
                "partner_api.listen", "needs token_file or client_ca_file: no open endpoint"
            )
        )
    if api.listen and config.handover.pickup_dir is None:
        problems.append(
            ConfigProblem(
                "partner_api.listen", "needs handover.pickup_dir, where it puts the files"
            )
        )
    return problems
