"""``liaison broker``: the RabbitMQ topology and least-privilege users, as code (docs/topology.md).

``definitions`` turns a routes file into a definitions document and per-office broker passwords;
``apply`` puts a document on a node through ``rabbitmqctl``; ``remove`` deletes a (test) vhost
and its users.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from broker.cli.output import emit, err, json_option
from broker.directory import TrustState, accept_directory
from broker.directory.store import read_directory_file, read_pinned_root
from broker.errors import InputError, KeyFileError
from broker.policy import partner_map
from broker.rabbitmq_admin import (
    DEFAULT_APPLY_WAIT,
    Rabbitmqctl,
    apply_definitions,
    definitions_vhost,
    remove_site,
)
from broker.topology import (
    DEAD_LETTER_EXCHANGE,
    DEFAULT_DELIVERY_LIMIT,
    ENVELOPE_EXCHANGE,
    OfficeRoute,
    amqp_user,
    build_definitions,
    dead_letter_queue,
    inbox_queue,
    new_password,
    parse_routes,
    publish_targets,
    remote_partners,
)

SECRET_SUFFIX = ".amqp-password"  # noqa: S105 - a file name suffix, not a password
MAX_SECRET_BYTES = 1024
MAX_DEFINITIONS_BYTES = 16 << 20
DEFAULT_VHOST = "liaison"


def secret_path(out: Path, office_id: str) -> Path:
    """Where ``definitions --out`` keeps an office's broker password (one line, mode 0600)."""
    return out / "secrets" / f"{office_id}{SECRET_SUFFIX}"


def _read_secret(path: Path) -> str:
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


def _write_private(path: Path, data: bytes, *, exclusive: bool) -> None:
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


def _passwords(routes: tuple[OfficeRoute, ...], out: Path) -> tuple[dict[str, str], list[str]]:
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
            passwords[route.office_id] = _read_secret(path)
        else:
            passwords[route.office_id] = new_password()
            _write_private(path, passwords[route.office_id].encode("ascii"), exclusive=True)
            created.append(route.office_id)
    return passwords, created


def _ctl_options(func: Any) -> Any:
    func = click.option(
        "--node",
        metavar="NAME",
        help="The RabbitMQ node to manage (rabbitmqctl --node); default: rabbitmqctl's own.",
    )(func)
    return click.option(
        "--rabbitmqctl",
        "rabbitmqctl",
        default="rabbitmqctl",
        show_default=True,
        metavar="PATH",
        help="The rabbitmqctl executable (run as root or the rabbitmq user).",
    )(func)


@click.group("broker")
def broker() -> None:
    """Generate and apply the RabbitMQ topology and least-privilege users.

    \b
      liaison broker definitions --routes routes.toml --vhost liaison --out site/
      liaison broker apply site/definitions.json --vhost liaison
      liaison broker remove --vhost liaison-test --users-prefix t1- --yes

    Each office may publish only as itself, only to the envelope exchange and only to the
    partners its agreements allow; it reads only its own inbox and dead letters, and can
    declare or delete nothing. RabbitMQ itself enforces this (docs/topology.md).
    """


@broker.command("definitions")
@click.option(
    "--directory",
    "directory_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The signed trust directory: each office's partners are those its agreements allow.",
)
@click.option(
    "--root",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="ROOT.json",
    help="The pinned root of trust that must have signed --directory.",
)
@click.option(
    "--site",
    metavar="NAME",
    help="With --directory: only the offices whose routing site is NAME (one broker per site).",
)
@click.option(
    "--routes",
    "routes_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Instead of --directory: TOML or JSON, [offices.ID] partners = [...] per office.",
)
@click.option("--vhost", default=DEFAULT_VHOST, show_default=True, help="The virtual host.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Writes DIR/definitions.json and DIR/secrets/<office>.amqp-password (mode 0600).",
)
@click.option(
    "--users-prefix",
    default="",
    metavar="P",
    help="Prefix of every broker user name (e.g. for a test run); default none.",
)
@click.option(
    "--delivery-limit",
    type=click.IntRange(1, 1000),
    default=DEFAULT_DELIVERY_LIMIT,
    show_default=True,
    help="Deliveries of a message before its inbox dead-letters it.",
)
@json_option
def definitions_command(
    *,
    directory_file: Path | None,
    root: Path | None,
    site: str | None,
    routes_file: Path | None,
    vhost: str,
    out: Path,
    users_prefix: str,
    delivery_limit: int,
    as_json: bool,
) -> None:
    """Write the broker definitions of a site's offices, and their passwords.

    \b
      liaison broker definitions --directory directory.bin --root root.json --out site/
    \b
    DIR/definitions.json            for 'liaison broker apply' (passwords only as salted hashes)
    DIR/secrets/<ID>.amqp-password  one office's broker password: give it to that office only

    An existing password file is kept, so running this again after an agreement changes
    updates permissions without changing passwords. Remove a file to change that password.
    """
    routes = _routes(directory_file, root, site, routes_file)
    # Check everything pure before writing any secret.
    build_definitions(
        routes,
        vhost=vhost,
        passwords=dict.fromkeys((r.office_id for r in routes), "not-yet"),
        user_prefix=users_prefix,
        delivery_limit=delivery_limit,
    )
    passwords, created = _passwords(routes, out)
    document = build_definitions(
        routes,
        vhost=vhost,
        passwords=passwords,
        user_prefix=users_prefix,
        delivery_limit=delivery_limit,
    )
    definitions_file = out / "definitions.json"
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    _write_private(definitions_file, text.encode("utf-8"), exclusive=False)
    targets = publish_targets(routes)
    remote = sorted(remote_partners(routes))
    offices: list[dict[str, Any]] = [
        {
            "office": route.office_id,
            "user": amqp_user(route.office_id, user_prefix=users_prefix),
            "inbox": inbox_queue(route.office_id),
            "dead_letters": dead_letter_queue(route.office_id),
            "may_address": sorted(targets[route.office_id]),
            "password_file": str(secret_path(out, route.office_id)),
            "password": "new" if route.office_id in created else "kept",
        }
        for route in routes
    ]
    report = {
        "vhost": vhost,
        "definitions": str(definitions_file),
        "envelope_exchange": ENVELOPE_EXCHANGE,
        "dead_letter_exchange": DEAD_LETTER_EXCHANGE,
        "offices": offices,
        "remote_partners": remote,
    }
    if remote:
        err.print(
            f"warning: no inbox on this broker for {', '.join(remote)}: envelopes to them are"
            " unroutable here until a site link serves them (or a name is misspelt)",
            markup=False,
        )

    def human(console: Console) -> None:
        table = Table(box=box.SIMPLE, title=f"vhost {vhost}: {definitions_file}")
        for column in ("office", "broker user", "may address", "password file"):
            table.add_column(column, overflow="fold")
        for row in offices:
            table.add_row(
                row["office"],
                row["user"],
                "\n".join(row["may_address"]) or "-",
                f"{row['password_file']} ({row['password']})",
            )
        console.print(table)

    emit(report, as_json=as_json, human=human)


def _load_definitions(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_DEFINITIONS_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_DEFINITIONS_BYTES:
        raise InputError(f"{path}: larger than {MAX_DEFINITIONS_BYTES} bytes")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: not a JSON definitions document") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: not a JSON definitions document")
    return document


def _routes(
    directory_file: Path | None, root: Path | None, site: str | None, routes_file: Path | None
) -> tuple[OfficeRoute, ...]:
    if (directory_file is None) == (routes_file is None):
        raise click.UsageError("give --directory FILE --root ROOT.json, or --routes FILE")
    if routes_file is not None:
        try:
            data = routes_file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {routes_file}: {exc.strerror}") from None
        return parse_routes(data, name=str(routes_file))
    if directory_file is None or root is None:
        raise click.UsageError("--directory needs --root (the pinned root of trust)")
    now = datetime.now(UTC)
    trusted = TrustState.pinned(read_pinned_root(root))
    directory = accept_directory(read_directory_file(directory_file), trusted, now=now).directory
    partners = partner_map(directory, now)
    offices = [o for o in directory.offices if site is None or o.routing.site == site]
    if not offices:
        raise InputError(f"no office of the directory is at site {site!r}")
    return tuple(OfficeRoute(o.id, partners[o.id]) for o in offices)


@broker.command("apply")
@click.argument("definitions_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--vhost", required=True, help="The vhost the definitions are for (a check: must match)."
)
@click.option(
    "--replace",
    is_flag=True,
    help="Import over an existing vhost: users and permissions are overwritten, queues and"
    " their messages kept.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=DEFAULT_APPLY_WAIT,
    show_default=True,
    help="Seconds to wait for the broker to hold every object.",
)
@_ctl_options
@json_option
def apply_command(
    *,
    definitions_file: Path,
    vhost: str,
    replace: bool,
    wait: float,
    rabbitmqctl: str,
    node: str | None,
    as_json: bool,
) -> None:
    """Import a definitions document into the broker through rabbitmqctl, and check it.

    Refuses an existing vhost unless --replace. After importing, reads the broker's
    definitions back until every user, permission, queue, exchange and binding is there
    with the right values; a queue that exists with other arguments is an error (RabbitMQ
    never changes a declared queue).
    """
    document = _load_definitions(definitions_file)
    declared = definitions_vhost(document)
    if declared != vhost:
        raise InputError(f"{definitions_file} is for vhost {declared!r}, not {vhost!r}")
    ctl = Rabbitmqctl(executable=rabbitmqctl, node=node)
    applied = apply_definitions(document, ctl=ctl, replace=replace, wait=wait)
    report = {
        "vhost": applied.vhost,
        "users": list(applied.users),
        "queues": list(applied.queues),
        "replaced": applied.replaced,
        "seconds": round(applied.seconds, 2),
    }

    def human(console: Console) -> None:
        verb = "Replaced" if applied.replaced else "Created"
        console.print(
            f"{verb} vhost [bold]{applied.vhost}[/]: {len(applied.users)} users,"
            f" {len(applied.queues)} queues, checked on the broker in {applied.seconds:.1f} s"
        )

    emit(report, as_json=as_json, human=human)


@broker.command("remove")
@click.option("--vhost", required=True, help="The vhost to delete, with its queues and messages.")
@click.option(
    "--users-prefix",
    required=True,
    metavar="P",
    help="Delete every user whose name starts with P (never an administrator).",
)
@click.confirmation_option(
    "--yes", prompt="Delete the vhost, its queues and messages, and the users?"
)
@_ctl_options
@json_option
def remove_command(
    *, vhost: str, users_prefix: str, rabbitmqctl: str, node: str | None, as_json: bool
) -> None:
    """Delete a vhost and the users of a prefix, e.g. after a test run. Irreversible."""
    removed = remove_site(
        Rabbitmqctl(executable=rabbitmqctl, node=node), vhost=vhost, users_prefix=users_prefix
    )
    report = {"vhost": vhost, "vhost_deleted": removed.vhost_deleted, "users": list(removed.users)}

    def human(console: Console) -> None:
        state = "deleted" if removed.vhost_deleted else "did not exist"
        console.print(
            f"vhost {vhost}: {state}; users deleted: {', '.join(removed.users) or 'none'}"
        )

    emit(report, as_json=as_json, human=human)
