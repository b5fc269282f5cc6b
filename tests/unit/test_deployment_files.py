"""The container deployment files agree with the code: docker-compose.yml, Dockerfile,
.dockerignore and deploy/compose/.

Docker cannot run on the build machine, so these tests check **consistency, not that Docker
runs it**: every command a container runs parses with the real ``liaison`` command tree; every
office configuration parses, points only at its own site's brokers (the DEMO directory's
``routing.site``) and keeps its files inside its own volume; every mount has a source; the
brokers mount the files the setup writes at the paths their configuration names; the setup
script itself is run for real (into a temporary folder, as the setup service would) and its
output loads as the daemons and brokers would load it. Whether the images build, RabbitMQ
boots with this configuration, the cluster forms and the demo's rabbitmqctl reaches the broker
is not checked here (docs/operations.md says so).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import stat
import tomllib
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from cryptography import x509

from broker.cli.main import cli
from broker.config import OfficeConfig, check_files, load_config, parse_config
from broker.daemon import load_office
from broker.demo.world import OFFICES
from broker.directory import TrustState, accept_directory
from broker.directory.store import read_directory_file, read_pinned_root
from broker.topology import amqp_user, parse_sites, password_matches

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
EXAMPLE = ROOT / "keys" / "example"
DEPLOY = ROOT / "deploy" / "compose"
HUB = "hub-cluster"


def _setup_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compose_setup", DEPLOY / "setup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP = _setup_module()


def _site_of() -> dict[str, str]:
    trusted = TrustState.pinned(read_pinned_root(EXAMPLE / "root.json"))
    signed = read_directory_file(EXAMPLE / "directory.bin")
    directory = accept_directory(signed, trusted, now=datetime.now(UTC)).directory
    return {office.id: office.routing.site for office in directory.offices}


SITE_OF = _site_of()


def parse_liaison(argv: list[str]) -> click.Context:
    """Parse ``liaison ARGV`` down to its leaf command, as the CLI would (unknown commands or
    options and missing required options raise click's UsageError); nothing is run."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="liaison")
    args = list(argv)
    while isinstance(command, click.Group):
        assert args, f"{argv}: names a group, not a command"
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"{argv}: no command {args[0]!r}"
        ctx = click.Context(sub, info_name=args[0], parent=ctx)
        command, args = sub, args[1:]
    return command.make_context(ctx.info_name, args, parent=ctx.parent)


def mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of each short-syntax volume entry."""
    found = []
    for entry in service.get("volumes", []):
        parts = entry.split(":")
        assert len(parts) in (2, 3), entry
        found.append((parts[0], parts[1], len(parts) == 3 and parts[2] == "ro"))
    return found


def host_file(service: dict[str, Any], container_path: str) -> Path:
    """The repository file bind-mounted at ``container_path`` in ``service``."""
    for source, target, _ in mounts(service):
        if source.startswith("./") and container_path == target:
            return ROOT / source
    raise AssertionError(f"{container_path} is not bind-mounted from the repository")


def office_services() -> dict[str, str]:
    """Office id -> its service, from the mounted configuration."""
    found: dict[str, str] = {}
    for name, service in SERVICES.items():
        if service.get("command", [None])[0] == "daemon":
            ctx = parse_liaison(service["command"])
            config = load_config(host_file(service, str(ctx.params["config_path"])))
            assert config.office.id not in found, f"two services run {config.office.id}"
            found[config.office.id] = name
    return found


def broker_services(site: str) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in SERVICES.items()
        if service.get("labels", {}).get("liaison.site") == site
    }


def office_config(office_id: str) -> OfficeConfig:
    service = SERVICES[office_services()[office_id]]
    return load_config(
        host_file(service, str(parse_liaison(service["command"]).params["config_path"]))
    )


# ---------------------------------------------------------------- the compose file


def test_every_demo_office_has_exactly_one_daemon_service() -> None:
    assert sorted(office_services()) == sorted(OFFICES)


@pytest.mark.parametrize("office_id", OFFICES)
def test_office_connects_only_to_its_own_sites_brokers(office_id: str) -> None:
    name = office_services()[office_id]
    service, config = SERVICES[name], office_config(office_id)
    site = SITE_OF[office_id]
    brokers = broker_services(site)
    hostnames = {s["hostname"] for s in brokers.values()}
    sites = parse_sites((DEPLOY / "sites.toml").read_bytes())
    for url in config.amqp.urls:
        parts = urlsplit(url)
        assert parts.hostname in hostnames, f"{office_id} ({site}): {url}"
        assert parts.username in (None, amqp_user(office_id))
        assert parts.path.lstrip("/") == sites[site].vhost
        assert parts.port == 5672  # the plain listener liaison.conf opens for the site's offices
    first = urlsplit(config.amqp.urls[0]).hostname
    first_service = next(n for n, s in brokers.items() if s["hostname"] == first)
    assert "profiles" not in brokers[first_service], "the first URL must run without a profile"
    assert service["depends_on"][first_service] == {"condition": "service_healthy"}
    assert service["depends_on"]["setup"] == {"condition": "service_completed_successfully"}


@pytest.mark.parametrize("office_id", OFFICES)
def test_office_files_live_in_its_own_volume(office_id: str) -> None:
    service, config = SERVICES[office_services()[office_id]], office_config(office_id)
    volume = f"office-{office_id.lower()}"
    assert (volume, str(SETUP.OFFICE_MOUNT), False) in mounts(service)
    paths = [config.office.data_dir, config.keys.dir, config.directory.file,
             config.directory.pinned_root, config.amqp.password_file,
             config.handover.pickup_dir]  # fmt: skip
    for path in paths:
        assert path is not None
        assert PurePosixPath(path).is_relative_to(SETUP.OFFICE_MOUNT), path
    # setup.py fills the same volume, named after the office.
    assert f"{volume}:/out/offices/{office_id}" in SERVICES["setup"]["volumes"]


def test_every_mount_source_exists_or_is_a_declared_volume() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for name, service in SERVICES.items():
        for source, target, _ in mounts(service):
            assert target.startswith("/"), f"{name}: {target}"
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert declared == used, f"declared but unused: {sorted(declared - used)}"


def test_setup_command_parses_and_names_the_mounts() -> None:
    service = SERVICES["setup"]
    assert service["entrypoint"][1] == "/opt/liaison-deploy/setup.py"
    assert host_file(service, "/opt/liaison-deploy") == DEPLOY
    assert host_file(service, "/opt/liaison/keys/example") == EXAMPLE
    args = SETUP._arguments(service["command"])
    targets = {target for _, target, _ in mounts(service)}
    for site in parse_sites((DEPLOY / "sites.toml").read_bytes()):
        assert str(args.brokers / site) in targets, site
    for office_id in OFFICES:
        assert str(args.offices / office_id) in targets, office_id
    assert {str(args.state), str(args.demo)} <= targets
    assert broker_services(args.demo_site), "the demo's broker site has a broker"
    assert service["healthcheck"] == {"disable": True}


def test_brokers_mount_what_setup_writes_where_their_configuration_names_it() -> None:
    conf = _conf(DEPLOY / "rabbitmq" / "liaison.conf")
    written = {str(SETUP.BROKER_MOUNT / name) for name in SETUP.BROKER_FILES}
    named = {v for k, v in conf.items() if k.startswith(("ssl_options.", "definitions.local"))}
    named.discard("verify_peer")
    named.discard("true")
    assert named
    assert named <= written, named - written
    assert conf["definitions.local.path"] == str(SETUP.BROKER_MOUNT / "definitions.json")
    assert conf["ssl_options.fail_if_no_peer_cert"] == "true"
    for site, tls in parse_sites((DEPLOY / "sites.toml").read_bytes()).items():
        assert {tls.ca_file, tls.cert_file, tls.key_file} <= written
        brokers = broker_services(site)
        assert tls.host in {s["hostname"] for s in brokers.values()}, site
        for name, service in brokers.items():
            assert service["image"].startswith("rabbitmq:3.13"), name
            found = mounts(service)
            assert (f"broker-{site}", str(SETUP.BROKER_MOUNT), True) in found, name
            assert host_file(service, "/etc/rabbitmq/conf.d/20-liaison.conf") == (
                DEPLOY / "rabbitmq" / "liaison.conf"
            )
            plugins = host_file(service, "/etc/rabbitmq/enabled_plugins").read_text("utf-8")
            assert "rabbitmq_shovel" in plugins
            assert any(t == "/var/lib/rabbitmq" for _, t, _ in found), name
            # The cookie setup wrote goes where RabbitMQ and its CLI read it.
            assert str(SETUP.BROKER_MOUNT / "erlang.cookie") in service["command"][2]


def _conf(path: Path) -> dict[str, str]:
    lines = path.read_text("utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_hub_cluster_profile_has_three_nodes_the_hub_office_lists() -> None:
    hub = broker_services("beijing")
    assert len(hub) == 3
    assert sorted(n for n, s in hub.items() if HUB in s.get("profiles", [])) == [
        "rabbitmq-hub-2",
        "rabbitmq-hub-3",
    ]
    conf = _conf(DEPLOY / "rabbitmq" / "cluster.conf")
    assert conf["cluster_formation.peer_discovery_backend"] == "classic_config"
    nodes = {v for k, v in conf.items() if k.startswith("cluster_formation.classic_config.")}
    assert nodes == {f"rabbit@{s['hostname']}" for s in hub.values()}
    for service in hub.values():  # one shared volume: one cookie, one certificate
        assert host_file(service, "/etc/rabbitmq/conf.d/30-cluster.conf")
        assert ("broker-beijing", str(SETUP.BROKER_MOUNT), True) in mounts(service)
    hosts = [urlsplit(u).hostname or "" for u in office_config("CN-MPS-OCT").amqp.urls]
    assert sorted(hosts) == sorted(s["hostname"] for s in hub.values())


def test_demo_service_runs_the_demo_against_a_broker_it_can_manage() -> None:
    demo = SERVICES["demo"]
    parse_liaison(demo["command"])
    assert demo["command"][0] == "demo"
    env = demo["environment"]
    host = urlsplit(env["LIAISON_AMQP_URL"]).hostname
    (broker,) = [s for s in SERVICES.values() if s.get("hostname") == host]
    assert env["LIAISON_RABBITMQ_NODE"] == f"rabbit@{host}"
    setup_args = SETUP._arguments(SERVICES["setup"]["command"])
    assert broker["labels"]["liaison.site"] == setup_args.demo_site
    script = DEPLOY / "rabbitmqctl-remote"
    assert script.stat().st_mode & stat.S_IXUSR
    cookie_path = re.search(r"cat (\S+)\)", script.read_text("utf-8"))
    assert cookie_path is not None
    assert ("demo-secrets", str(PurePosixPath(cookie_path[1]).parent), True) in mounts(demo)
    # The demo reads keys/example beside the package; the image keeps the source at /opt/liaison.
    assert host_file(demo, "/opt/liaison/keys/example") == EXAMPLE
    assert "WORKDIR /opt/liaison" in (ROOT / "Dockerfile").read_text("utf-8")


# ---------------------------------------------------------------- the Dockerfile


def _stages() -> dict[str, list[tuple[str, str]]]:
    """Each stage's (INSTRUCTION, arguments), continuation lines joined; "" names the last."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text("utf-8"))
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "FROM":
            current = []
            stages[rest.split()[-1]] = current
        current.append((word.upper(), rest.strip()))
    return stages


def _one(stage: list[tuple[str, str]], word: str) -> str:
    (value,) = [rest for w, rest in stage if w == word]
    return value


def test_daemon_image_runs_liaison_as_a_non_root_user() -> None:
    stages = _stages()
    daemon = stages[list(stages)[-1]]  # the default target
    assert daemon[0][1].startswith("python:3.12-slim")
    assert _one(daemon, "USER") == "10001"
    assert json.loads(_one(daemon, "ENTRYPOINT")) == ["liaison"]
    command = json.loads(_one(daemon, "CMD"))
    assert command == ["daemon", "--config", "/etc/liaison/office.toml"]
    parse_liaison(command)
    health = _one(daemon, "HEALTHCHECK")
    probe = json.loads(health[health.index("CMD") + 3 :])
    assert probe[0] == "liaison"
    ctx = parse_liaison(probe[1:])
    assert ctx.params["health"] is True
    assert str(ctx.params["config_path"]) == command[-1]
    # The daemons run the image's own command, with their configuration at that path.
    for name in office_services().values():
        assert SERVICES[name]["command"] == command
    demo = stages["demo"]
    assert _one(demo, "USER") == "10001"
    assert json.loads(_one(demo, "ENTRYPOINT")) == ["liaison"]


def test_no_key_material_enters_the_images() -> None:
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", "the build context is an allow-list"
    allowed = [p[1:].rstrip("/") for p in ignore if p.startswith("!")]
    for secret in ("keys", ".venv", ".git", "data", "secrets", "deploy/compose/setup.py"):
        assert not any(a == secret or a.startswith(secret + "/") for a in allowed), secret
    for stage in _stages().values():
        for word, rest in stage:
            if word not in ("COPY", "ADD"):
                continue
            assert word == "COPY", "ADD could fetch or unpack anything"
            args = shlex.split(rest)
            if any(a.startswith("--from=") for a in args):
                continue
            for given in args[:-1]:
                source = given.rstrip("/")
                assert not source.startswith(("keys", ".")), source
                assert any(source == a or source.startswith(a + "/") for a in allowed), source


# ---------------------------------------------------------------- the setup, run for real


def _run_setup(tmp_path: Path) -> Any:
    args = SETUP._arguments(SERVICES["setup"]["command"])
    argv = [
        f"--example={EXAMPLE}",
        f"--sites={DEPLOY / 'sites.toml'}",
        f"--offices-config={DEPLOY / 'offices'}",
        f"--state={tmp_path / 'state'}",
        f"--brokers={tmp_path / 'brokers'}",
        f"--offices={tmp_path / 'offices'}",
        f"--demo={tmp_path / 'demo'}",
        f"--demo-site={args.demo_site}",
    ]
    assert SETUP.main(argv) == 0
    return args


def test_setup_writes_what_brokers_and_daemons_load(tmp_path: Path) -> None:
    args = _run_setup(tmp_path)
    sites = parse_sites((DEPLOY / "sites.toml").read_bytes())
    for site in sites:
        volume = tmp_path / "brokers" / site
        for name in SETUP.BROKER_FILES:
            assert (volume / name).is_file(), f"{site}: {name}"
        boot = json.loads((volume / "definitions.json").read_text("utf-8"))
        shovels = [p for p in boot["parameters"] if p["component"] == "shovel"]
        far = {urlsplit(p["value"]["dest-uri"]).hostname for p in shovels}
        assert far
        assert far <= {s.host for n, s in sites.items() if n != site}
        # The server certificate holds every name the site's broker is reached by.
        cert = x509.load_pem_x509_certificate((volume / "tls" / "server.pem").read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hostnames = {s["hostname"] for s in broker_services(site).values()}
        assert hostnames <= set(names.get_values_for_type(x509.DNSName)), site
        users = {u["name"]: u for u in boot["users"]}
        for office_id in OFFICES:
            if SITE_OF[office_id] != site:
                continue
            volume_dir = tmp_path / "offices" / office_id
            password = (volume_dir / "secrets" / "amqp-password").read_text("utf-8").strip()
            assert password_matches(password, users[amqp_user(office_id)]["password_hash"])
    demo_cookie = (tmp_path / "demo" / "erlang.cookie").read_bytes()
    assert demo_cookie == (tmp_path / "brokers" / args.demo_site / "erlang.cookie").read_bytes()


@pytest.mark.parametrize("office_id", OFFICES)
def test_setup_output_is_a_complete_office(tmp_path: Path, office_id: str) -> None:
    _run_setup(tmp_path)
    config = office_config(office_id)
    text = config.source.read_text("utf-8").replace(
        str(SETUP.OFFICE_MOUNT), str(tmp_path / "offices" / office_id)
    )
    moved = parse_config(text, tmp_path / "office.toml")
    assert check_files(moved) == []
    office = load_office(moved, passphrase=None, now=datetime.now(UTC))
    assert office.keys.office_id == office_id


def test_setup_again_keeps_every_secret(tmp_path: Path) -> None:
    _run_setup(tmp_path)
    files = [p for p in sorted(tmp_path.rglob("*")) if p.is_file() and p.suffix != ".json"]
    before = {p: p.read_bytes() for p in files}
    _run_setup(tmp_path)
    assert {p: p.read_bytes() for p in files} == before
    for path in files:
        if "key" in path.name or "password" in path.name or path.name == "erlang.cookie":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_sites_file_is_the_directorys_sites() -> None:
    data = tomllib.loads((DEPLOY / "sites.toml").read_text("utf-8"))
    assert set(data["sites"]) == {SITE_OF[o] for o in OFFICES}
