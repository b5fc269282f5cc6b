"""``liaison broker``: the RabbitMQ topology and least-privilege users, as code (docs/topology.md).

``definitions`` turns a routes file into a definitions document and per-office broker passwords;
``apply`` puts a document on a node through ``rabbitmqctl``; ``remove`` deletes a (test) vhost
and its users.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from broker.cli.broker_secrets import (
    link_passwords,
    link_secret_path,
    office_passwords,
    secret_path,
    write_private,
)
from broker.cli.certs_cmd import certs_command
from broker.cli.output import emit, err, json_option
from broker.directory import TrustState, accept_directory
from broker.directory.store import read_directory_file, read_pinned_root
from broker.errors import InputError, KeyFileError
from broker.policy import partner_map
from broker.rabbitmq_admin import (
    DEFAULT_APPLY_WAIT,
    Rabbitmqctl,
    apply_definitions,
    apply_parameters,
    definitions_vhost,
    remove_site,
)
from broker.topology import (
    DEAD_LETTER_EXCHANGE,
    DEFAULT_DELIVERY_LIMIT,
    ENVELOPE_EXCHANGE,
    OfficeRoute,
    Site,
    SiteLink,
    add_links,
    amqp_user,
    build_definitions,
    dead_letter_queue,
    inbox_queue,
    link_user,
    links_of,
    outbound_queue,
    parse_routes,
    parse_sites,
    publish_targets,
    remote_partners,
    shovel_name,
    shovel_parameters,
    site_links,
)

MAX_DEFINITIONS_BYTES = 16 << 20
DEFAULT_VHOST = "liaison"
SHOVELS_FILE = "shovels.json"


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
    \b
    Two sites, linked over TLS (run once per site, with the same --link-secrets):
      liaison broker definitions --directory directory.bin --root root.json \\
          --site yunnan --sites sites.toml --link-secrets links/ --out yunnan/
      liaison broker apply yunnan/definitions.json --vhost liaison   # and yunnan/shovels.json

    Each office may publish only as itself, only to the envelope exchange and only to the
    partners its agreements allow; it reads only its own inbox and dead letters, and can
    declare or delete nothing. RabbitMQ itself enforces this (docs/topology.md).
    """


broker.add_command(certs_command)  # the brokers' TLS files: broker/cli/certs_cmd.py


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
@click.option(
    "--sites",
    "sites_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="With --directory and --site: link this site to the sites FILE lists (TOML: each"
    " site's AMQPS host and port, its shovels' TLS files). Adds an outbound queue per far site"
    " and a link user per near one; writes DIR/shovels.json.",
)
@click.option(
    "--link-secrets",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="LDIR",
    help="With --sites: link passwords, LDIR/<site>/<user>.amqp-password (0600). Give every"
    " site's run the same LDIR (or copy the files): both ends of a link need the password.",
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
    sites_file: Path | None,
    link_secrets: Path | None,
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
    DIR/shovels.json                with --sites: this site's shovels; their URIs hold link
                                    passwords, so they are kept out of definitions.json (0600)

    An existing password file is kept, so running this again after an agreement changes
    updates permissions without changing passwords. Remove a file to change that password.

    Two sites: run once per site with --site, the same --sites file and the same
    --link-secrets folder; each site then holds an outbound.<site> queue and a shovel per far
    site, and a link.from.<site> user per near one (docs/topology.md, "Two sites").
    """
    routes = _routes(directory_file, root, site, routes_file)
    links: list[SiteLink] = []
    if sites_file is not None or link_secrets is not None:
        links = _site_links(directory_file, root, site, sites_file, link_secrets)
    # Check everything pure before writing any secret.
    build_definitions(
        routes,
        vhost=vhost,
        passwords=dict.fromkeys((r.office_id for r in routes), "not-yet"),
        user_prefix=users_prefix,
        delivery_limit=delivery_limit,
    )
    passwords, created = office_passwords(routes, out)
    document = build_definitions(
        routes,
        vhost=vhost,
        passwords=passwords,
        user_prefix=users_prefix,
        delivery_limit=delivery_limit,
    )
    link_report: list[dict[str, Any]] = []
    if sites_file is not None and link_secrets is not None and site is not None:
        passwords_of_links = link_passwords(links, link_secrets, users_prefix)
        document = add_links(
            document, links, site=site, passwords=passwords_of_links, user_prefix=users_prefix
        )
        shovels = shovel_parameters(
            links,
            site=site,
            vhost=vhost,
            sites=_read_sites(sites_file),
            passwords=passwords_of_links,
            user_prefix=users_prefix,
        )
        shovel_text = json.dumps(shovels, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        write_private(out / SHOVELS_FILE, shovel_text.encode("utf-8"), exclusive=False)
        link_report = _links_report(links, site, link_secrets, users_prefix)
    definitions_file = out / "definitions.json"
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_private(definitions_file, text.encode("utf-8"), exclusive=False)
    targets = publish_targets(routes)
    linked = {r for link in links if link.from_site == site for _, r in link.pairs}
    remote = sorted(remote_partners(routes) - linked)
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
    if sites_file is not None:
        report["links"] = link_report
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
        for link in link_report:
            if link["direction"] == "out":
                console.print(
                    f"to site {link['site']}: queue {link['queue']}, shovel {link['shovel']}"
                    f" ({len(link['routing_keys'])} routes) in {out / SHOVELS_FILE}"
                )
            else:
                console.print(
                    f"from site {link['site']}: link user {link['user']}"
                    f" ({len(link['routing_keys'])} routes)"
                )

    emit(report, as_json=as_json, human=human)


def _load_shovels(path: Path) -> list[dict[str, Any]]:
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()[: MAX_DEFINITIONS_BYTES + 1]
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise KeyFileError(f"{path} holds link passwords and is readable by others; chmod 600 it")
    try:
        shovels = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: not a JSON list of shovel parameters") from None
    if not isinstance(shovels, list):
        raise InputError(f"{path}: not a JSON list of shovel parameters")
    return shovels


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
    routes, site_of = _world(directory_file, root)
    local = tuple(r for r in routes if site is None or site_of[r.office_id] == site)
    if not local:
        raise InputError(f"no office of the directory is at site {site!r}")
    return local


def _read_sites(sites_file: Path) -> dict[str, Site]:
    try:
        data = sites_file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {sites_file}: {exc.strerror}") from None
    return parse_sites(data, name=str(sites_file))


def _site_links(
    directory_file: Path | None,
    root: Path | None,
    site: str | None,
    sites_file: Path | None,
    link_secrets: Path | None,
) -> list[SiteLink]:
    """The links of ``site`` to the sites of the sites file, from the whole directory."""
    if directory_file is None or root is None or site is None:
        raise click.UsageError("--sites needs --directory, --root and --site (the site to link)")
    if sites_file is None or link_secrets is None:
        raise click.UsageError("--sites and --link-secrets go together")
    all_routes, site_of = _world(directory_file, root)
    return links_of(site_links(all_routes, site_of), site, _read_sites(sites_file))


def _links_report(
    links: list[SiteLink], site: str, link_secrets: Path, user_prefix: str
) -> list[dict[str, Any]]:
    report: list[dict[str, Any]] = []
    for link in links:
        keys = list(link.routing_keys)
        secret = str(link_secret_path(link_secrets, link, user_prefix=user_prefix))
        user = link_user(link.from_site, user_prefix=user_prefix)
        if link.from_site == site:
            report.append({"direction": "out", "site": link.to_site,
                           "queue": outbound_queue(link.to_site),
                           "shovel": shovel_name(link.to_site), "user": user,
                           "password_file": secret, "routing_keys": keys})  # fmt: skip
        else:
            report.append({"direction": "in", "site": link.from_site, "user": user,
                           "password_file": secret, "routing_keys": keys})  # fmt: skip
    return report


def _world(directory_file: Path, root: Path) -> tuple[tuple[OfficeRoute, ...], dict[str, str]]:
    """Every office of the signed directory with its partners, and each office's site."""
    now = datetime.now(UTC)
    trusted = TrustState.pinned(read_pinned_root(root))
    directory = accept_directory(read_directory_file(directory_file), trusted, now=now).directory
    partners = partner_map(directory, now)
    routes = tuple(OfficeRoute(o.id, partners[o.id]) for o in directory.offices)
    return routes, {o.id: o.routing.site for o in directory.offices}


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
@click.option(
    "--shovels",
    "shovels_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help=f"The site's shovels (from 'definitions --sites'); default: {SHOVELS_FILE} beside"
    " the definitions file, if there is one. Fed to rabbitmqctl on stdin (they hold passwords).",
)
@_ctl_options
@json_option
def apply_command(
    *,
    definitions_file: Path,
    vhost: str,
    replace: bool,
    wait: float,
    shovels_file: Path | None,
    rabbitmqctl: str,
    node: str | None,
    as_json: bool,
) -> None:
    """Import a definitions document into the broker through rabbitmqctl, and check it.

    Refuses an existing vhost unless --replace. After importing, reads the broker's
    definitions back until every user, permission, queue, exchange and binding is there
    with the right values; a queue that exists with other arguments is an error (RabbitMQ
    never changes a declared queue). Then the site's shovels (shovels.json beside the
    definitions, or --shovels), fed on stdin so that their passwords never show on a
    command line; check them with 'rabbitmqctl shovel_status'.
    """
    document = _load_definitions(definitions_file)
    declared = definitions_vhost(document)
    if declared != vhost:
        raise InputError(f"{definitions_file} is for vhost {declared!r}, not {vhost!r}")
    beside = definitions_file.parent / SHOVELS_FILE
    if shovels_file is None and beside.is_file():
        shovels_file = beside
    shovels = _load_shovels(shovels_file) if shovels_file is not None else []
    ctl = Rabbitmqctl(executable=rabbitmqctl, node=node)
    applied = apply_definitions(document, ctl=ctl, replace=replace, wait=wait)
    shovel_names = apply_parameters(shovels, ctl=ctl, vhost=vhost, wait=wait) if shovels else ()
    report = {
        "vhost": applied.vhost,
        "users": list(applied.users),
        "queues": list(applied.queues),
        "shovels": list(shovel_names),
        "replaced": applied.replaced,
        "seconds": round(applied.seconds, 2),
    }

    def human(console: Console) -> None:
        verb = "Replaced" if applied.replaced else "Created"
        console.print(
            f"{verb} vhost [bold]{applied.vhost}[/]: {len(applied.users)} users,"
            f" {len(applied.queues)} queues, checked on the broker in {applied.seconds:.1f} s"
        )
        if shovel_names:
            console.print(f"Shovels: {', '.join(shovel_names)} (rabbitmqctl shovel_status)")

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
