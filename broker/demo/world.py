"""The demo's five offices: a fresh vhost and users, keys, configurations and daemons.

Everything lives in one working folder, laid out as a real deployment would be::

    <work>/keys/offices/<ID>/      DEMO keys (private files 0600)
    <work>/<ID>/office.toml         the office's configuration
    <work>/<ID>/amqp-password       its broker password (0600)
    <work>/<ID>/data/               outbox, inbox, exchange log, envelopes, hand-over folder
    <work>/<ID>/partner/answers/    the pickup folder its partner system drops answers into

Each office's own system speaks a different format: the Lao office's the bilingual sheet, the
Spanish unit's UMF-style XML, the Vietnamese ministry's JSON; the two Chinese offices read
Liaison's canonical JSON.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from broker.config import load_config
from broker.daemon import DaemonSettings, Office, OfficeDaemon, amqp_settings, load_office
from broker.demo.broker_source import DemoBroker
from broker.directory import TrustState, accept_directory, decode_root
from broker.errors import NotAvailable, TransportError
from broker.policy import partner_map
from broker.rabbitmq_admin import apply_definitions, remove_site, vhost_exists
from broker.topology import OfficeRoute, build_definitions, new_password

EXAMPLE: Final = Path(__file__).resolve().parents[2] / "keys" / "example"
DIRECTORY_FILE: Final = EXAMPLE / "directory.bin"
ROOT_FILE: Final = EXAMPLE / "root.json"

HK, OCT, VN, LA, ES = "CN-YN-BLO-HK", "CN-MPS-OCT", "VN-BCA-C02", "LA-MOPS-ATD", "ES-PN-UCRIF"
OFFICES: Final = (HK, OCT, VN, LA, ES)


@dataclass(frozen=True, slots=True)
class Side:
    """An office's own system: the format it speaks."""

    adapter: str
    variant: str = ""
    describe: str = ""


SIDES: Final = {
    HK: Side("canonical", describe="canonical JSON"),
    OCT: Side("canonical", describe="canonical JSON"),
    VN: Side("json", describe="JSON (its HTTP API's format)"),
    LA: Side("sheet", "xlsx:lo", describe="bilingual spreadsheet, Lao labels"),
    ES: Side("umf", describe="UMF-style XML"),
}
SETTINGS: Final = DaemonSettings(
    tick=0.05,
    outbox_poll=0.2,
    chase_interval=2.0,
    health_interval=0.5,
    directory_check=3600.0,
    drain_timeout=2.0,
    link_stop_timeout=5.0,
)


@dataclass
class DemoOffice:
    office_id: str
    folder: Path
    office: Office
    daemon: OfficeDaemon

    @property
    def data_dir(self) -> Path:
        return self.office.paths.data_dir

    @property
    def deliver_dir(self) -> Path:
        return self.office.config.deliver_dir

    @property
    def pickup_dir(self) -> Path:
        return self.folder / "partner" / "answers"


@dataclass
class World:
    work: Path
    broker: DemoBroker
    vhost: str
    user_prefix: str
    offices: dict[str, DemoOffice] = field(default_factory=dict)

    def __getitem__(self, office_id: str) -> DemoOffice:
        return self.offices[office_id]

    def start(self, *, timeout: float) -> None:
        for each in self.offices.values():
            each.daemon.start()
        for each in self.offices.values():
            if not each.daemon.wait_ready(timeout):
                raise TransportError(
                    f"{each.office_id}'s daemon did not connect within {timeout:g} s"
                    f" ({type(each.daemon.error).__name__ if each.daemon.error else 'no error'})"
                )

    def stop(self) -> None:
        for each in self.offices.values():  # all at once: each drains its link in parallel
            each.daemon.request_stop()
        for each in self.offices.values():
            each.daemon.stop()

    def remove(self) -> bool:
        """Delete the vhost and the demo's users; True if nothing of it is left."""
        remove_site(self.broker.ctl, vhost=self.vhost, users_prefix=self.user_prefix)
        return not vhost_exists(self.broker.ctl, self.vhost)


def _copy_keys(work: Path) -> Path:
    """The DEMO keys, private files 0600 (git does not keep modes; the loader insists)."""
    target_root = work / "keys" / "offices"
    for office_id in OFFICES:
        source, target = EXAMPLE / "offices" / office_id, target_root / office_id
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in sorted(source.iterdir()):
            shutil.copyfile(path, target / path.name)
            (target / path.name).chmod(0o644 if path.name == "public.json" else 0o600)
    return target_root


def _routes(now: datetime) -> tuple[OfficeRoute, ...]:
    root = decode_root(ROOT_FILE.read_bytes())
    directory = accept_directory(
        DIRECTORY_FILE.read_bytes(), TrustState.pinned(root), now=now
    ).directory
    partners = partner_map(directory, now)
    here = frozenset(OFFICES)
    return tuple(OfficeRoute(o, partners[o] & here) for o in OFFICES)


def _config_text(office_id: str, keys: Path, broker: DemoBroker, vhost: str, prefix: str) -> str:
    side = SIDES[office_id]
    return (
        f"# {office_id}: written by 'liaison demo'\n"
        f'[office]\nid = "{office_id}"\ndata_dir = "data"\n\n'
        f'[keys]\ndir = "{keys / office_id}"\n\n'
        f'[directory]\nfile = "{DIRECTORY_FILE}"\npinned_root = "{ROOT_FILE}"\n\n'
        f'[amqp]\nurls = ["amqp://{broker.host}:{broker.port}/{vhost}"]\n'
        f'password_file = "amqp-password"\nuser_prefix = "{prefix}"\n\n'
        f'[handover]\nadapter = "{side.adapter}"\nvariant = "{side.variant}"\n'
        'pickup_dir = "partner/answers"\npickup_interval = 0.2\n\n'
        '[log]\nformat = "json"\nlevel = "warning"\n'
    )


def build_world(
    work: Path, broker: DemoBroker, *, now: datetime, say: Callable[[str], None]
) -> World:
    """Put the five offices' topology on the broker and make their folders and daemons."""
    if not (DIRECTORY_FILE.is_file() and ROOT_FILE.is_file()):
        raise NotAvailable(
            f"the demo runs from a checkout of the repository: {EXAMPLE} (the DEMO directory"
            " and keys) is not there"
        )
    token = secrets.token_hex(4)
    world = World(work, broker, vhost=f"liaison-demo-{token}", user_prefix=f"demo{token}-")
    routes = _routes(now)
    passwords = {route.office_id: new_password() for route in routes}
    definitions = build_definitions(
        routes, vhost=world.vhost, passwords=passwords, user_prefix=world.user_prefix
    )
    apply_definitions(definitions, ctl=broker.ctl)
    try:
        _make_offices(world, passwords, now=now)
    except BaseException:
        world.remove()  # nothing of a demo that could not start stays on the broker
        raise
    say(
        f"vhost {world.vhost}: the envelope exchange, five quorum inboxes with dead-letter"
        " queues, five least-privilege users"
    )
    return world


def _make_offices(world: World, passwords: dict[str, str], *, now: datetime) -> None:
    keys = _copy_keys(world.work)
    for office_id in OFFICES:
        folder = world.work / office_id
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(folder / "amqp-password", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as secret:  # private from the first byte
            secret.write(passwords[office_id])
        path = folder / "office.toml"
        path.write_text(
            _config_text(office_id, keys, world.broker, world.vhost, world.user_prefix),
            encoding="utf-8",
        )
        config = load_config(path)
        office = load_office(config, passphrase=None, now=now)
        daemon = OfficeDaemon(office, amqp_settings(config), settings=SETTINGS)
        world.offices[office_id] = DemoOffice(office_id, folder, office, daemon)


def response_due(now: datetime, hours: float) -> datetime:
    return now.replace(microsecond=0) + timedelta(hours=hours)
