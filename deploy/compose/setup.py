"""The ``setup`` service of docker-compose.yml: certificates, broker definitions and each
office's secrets, written into the volumes the brokers and daemons mount. DEMO material only.

It runs the same commands an operator would (``liaison broker certs``, ``liaison broker
definitions --site``), then lays their output out where each container expects it:

    <brokers>/<site>/definitions.json   definitions + that site's shovels, loaded at boot
                                        (rabbitmq/liaison.conf: definitions.local.path)
    <brokers>/<site>/tls/               ca.pem, server.pem + key, link.pem + key (the shovels')
    <brokers>/<site>/erlang.cookie      the site's Erlang cookie (cluster nodes, rabbitmqctl)
    <offices>/<ID>/keys/                the office's DEMO keys, 0600 (git keeps them 0644)
    <offices>/<ID>/secrets/amqp-password, <offices>/<ID>/directory/{directory.bin,root.json}
    <demo>/erlang.cookie                for the demo's rabbitmqctl (rabbitmqctl-remote)

Safe to run again (docker compose runs it on every ``up``): passwords, link passwords, the CA,
certificates and cookies are kept, so running brokers and daemons keep working.

Why the shovels go into the boot definitions: RabbitMQ imports ``load_definitions`` after its
plugins start (3.8.4+), so dynamic shovels in ``parameters`` come up with the node, and
nothing needs rabbitmqctl. The file holds link passwords, exactly like shovels.json: it is
0600 and readable by the broker's user only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from broker.cli.main import cli
from broker.config import OfficeConfig, load_config
from broker.directory import TrustState, accept_directory
from broker.directory.store import read_directory_file, read_pinned_root
from broker.topology import Site, parse_sites

# Where each container mounts its volume; rabbitmq/liaison.conf and sites.toml name these.
BROKER_MOUNT = Path("/etc/liaison-broker")
OFFICE_MOUNT = Path("/var/lib/liaison")
CA_FILE = "ca.pem"
BROKER_FILES = ("definitions.json", "erlang.cookie", "tls/ca.pem", "tls/server.pem",
                "tls/server-key.pem", "tls/link.pem", "tls/link-key.pem")  # fmt: skip


def liaison(*args: str) -> None:
    """Run one ``liaison`` command in this process (errors propagate: setup fails loudly)."""
    print("+ liaison", " ".join(args), flush=True)
    cli.main(args=list(args), prog_name="liaison", standalone_mode=False)


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    temp.replace(path)


def copy_private(source: Path, target: Path) -> None:
    write_private(target, source.read_bytes())


def cookie(path: Path) -> bytes:
    """The cookie kept at ``path``, or a new one (Erlang wants letters/digits, one line)."""
    if not path.is_file():
        write_private(path, secrets.token_hex(24).encode("ascii"))
    return path.read_bytes()


def site_hosts(
    sites: dict[str, Site], offices: list[OfficeConfig], site_of: dict[str, str]
) -> dict[str, list[str]]:
    """Every name a site's broker answers to: the sites file's name (other sites' shovels
    check it) first, then the hosts of its offices' URLs (a cluster's nodes): one server
    certificate, shared by a cluster's nodes, serves them all."""
    hosts: dict[str, list[str]] = {}
    for name, site in sites.items():
        urls = {urlsplit(url).hostname or "" for o in offices if site_of[o.office.id] == name
                for url in o.amqp.urls}  # fmt: skip
        hosts[name] = [site.tls_name, *sorted(urls - {site.tls_name, ""})]
    return hosts


def directory_sites(example: Path) -> dict[str, str]:
    """Each office's routing site, from the signed DEMO directory."""
    trusted = TrustState.pinned(read_pinned_root(example / "root.json"))
    signed = read_directory_file(example / "directory.bin")
    directory = accept_directory(signed, trusted, now=datetime.now(UTC)).directory
    return {office.id: office.routing.site for office in directory.offices}


def boot_definitions(site_out: Path) -> bytes:
    document: dict[str, Any] = json.loads((site_out / "definitions.json").read_text("utf-8"))
    shovels_file = site_out / "shovels.json"
    shovels = json.loads(shovels_file.read_text("utf-8")) if shovels_file.is_file() else []
    document["parameters"] = [*document.get("parameters", []), *shovels]
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def chown_tree(root: Path, owner: tuple[int, int] | None) -> None:
    if owner is None:
        return
    for path in [root, *root.rglob("*")]:
        os.chown(path, *owner, follow_symlinks=False)


def _owner(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    uid, _, gid = value.partition(":")
    return int(uid), int(gid or uid)


def broker_volume(
    volume: Path, site_out: Path, ca_dir: Path, *, site: str, server: str, owner: str | None
) -> None:
    """One site's broker volume: boot definitions, TLS files, cookie (BROKER_FILES)."""
    write_private(volume / "definitions.json", boot_definitions(site_out))
    cookie(volume / "erlang.cookie")
    for source, target in ((CA_FILE, "ca.pem"), (f"{server}.pem", "server.pem"),
                           (f"{server}-key.pem", "server-key.pem"),
                           (f"link-{site}.pem", "link.pem"),
                           (f"link-{site}-key.pem", "link-key.pem")):  # fmt: skip
        copy_private(ca_dir / source, volume / "tls" / target)
    chown_tree(volume, _owner(owner))


def office_volume(
    volume: Path, example: Path, office_id: str, secret: Path, owner: str | None
) -> None:
    """One office's volume: its DEMO keys (0600), broker password, the directory."""
    for path in sorted((example / "offices" / office_id).iterdir()):
        copy_private(path, volume / "keys" / path.name)
    (volume / "keys" / "public.json").chmod(0o644)
    copy_private(secret, volume / "secrets" / "amqp-password")
    (volume / "directory").mkdir(mode=0o755, parents=True, exist_ok=True)
    for name in ("directory.bin", "root.json"):
        shutil.copyfile(example / name, volume / "directory" / name)
    (volume / "data").mkdir(mode=0o700, exist_ok=True)
    chown_tree(volume, _owner(owner))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--example", type=Path, required=True, help="keys/example (read only)")
    parser.add_argument("--sites", type=Path, required=True, help="deploy/compose/sites.toml")
    parser.add_argument("--offices-config", type=Path, required=True, help="offices/*.toml")
    parser.add_argument("--state", type=Path, required=True, help="CA, link secrets, output")
    parser.add_argument("--brokers", type=Path, required=True, help="<site>/ per broker volume")
    parser.add_argument("--offices", type=Path, required=True, help="<ID>/ per office volume")
    parser.add_argument("--demo", type=Path, required=True, help="the demo's volume")
    parser.add_argument("--demo-site", required=True, help="the site whose broker the demo uses")
    parser.add_argument("--broker-owner", metavar="UID:GID", help="chown broker files to this")
    parser.add_argument("--office-owner", metavar="UID:GID", help="chown office files to this")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    sites = parse_sites(args.sites.read_bytes(), name=str(args.sites))
    offices = [load_config(path) for path in sorted(args.offices_config.glob("*.toml"))]
    site_of = directory_sites(args.example)
    for config in offices:
        if site_of.get(config.office.id) not in sites:
            raise SystemExit(
                f"{config.source}: office {config.office.id} is at site"
                f" {site_of.get(config.office.id)!r}, which {args.sites} does not list"
            )
    ca_dir = args.state / "ca"
    hosts = site_hosts(sites, offices, site_of)
    certs = ["broker", "certs", "--out", str(ca_dir)]
    for site in sorted(sites):
        certs += ["--server", ",".join(hosts[site]), "--client", f"link-{site}"]
    liaison(*certs)
    directory = [str(args.example / "directory.bin"), "--root", str(args.example / "root.json")]
    for site in sorted(sites):
        out = args.state / "sites" / site
        liaison("broker", "definitions", "--directory", *directory, "--site", site,
                "--sites", str(args.sites), "--link-secrets", str(args.state / "links"),
                "--out", str(out))  # fmt: skip
        broker_volume(
            args.brokers / site, out, ca_dir, site=site, server=hosts[site][0],
            owner=args.broker_owner,
        )  # fmt: skip
    for config in offices:
        office_id = config.office.id
        secret = args.state / "sites" / site_of[office_id] / "secrets"
        secret /= f"{office_id}.amqp-password"
        office_volume(args.offices / office_id, args.example, office_id, secret, args.office_owner)
    demo_cookie = cookie(args.brokers / args.demo_site / "erlang.cookie")
    write_private(args.demo / "erlang.cookie", demo_cookie)
    chown_tree(args.demo, _owner(args.office_owner))
    print("setup done: sites", ", ".join(sorted(sites)), "- offices", len(offices), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
