"""Site links without a broker: which pairs each link carries, the outbound queue and its
bindings, the link user's rights, the shovel, the sites file, and ``liaison broker
definitions --sites`` / ``apply`` with shovels (secrets kept out of definitions.json and off
command lines). The real thing, two nodes over TLS: tests/integration/test_two_site.py."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from broker.cli.broker_cmd import broker
from broker.cli.main import cli
from broker.errors import InputError, InvalidMessage
from broker.topology import (
    ENVELOPE_EXCHANGE,
    OfficeRoute,
    Site,
    add_links,
    build_definitions,
    link_permissions,
    link_user,
    office_of_user,
    parse_sites,
    password_matches,
    shovel_parameters,
    site_links,
)
from tests.conftest import CliResult
from tests.demo import DIRECTORY_FILE, ROOT_FILE
from tests.unit.test_topology_admin import FakeNode

HK, MH, VN, LA = "CN-YN-BLO-HK", "CN-YN-BLO-MH", "VN-BCA-C02", "LA-MOPS-ATD"
SITE_OF = {HK: "yunnan", MH: "yunnan", VN: "hanoi", LA: "vientiane"}
# HK may address VN; MH may address LA; nobody else names anybody.
ROUTES = (
    OfficeRoute(HK, frozenset({VN})),
    OfficeRoute(MH, frozenset({LA})),
    OfficeRoute(VN, frozenset()),
    OfficeRoute(LA, frozenset()),
)
SITES = {
    name: Site(
        name=name,
        host=f"{name}-1.example",
        port=port,
        ca_file=f"/tls/{name}/ca.pem",
        cert_file=f"/tls/{name}/link.pem",
        key_file=f"/tls/{name}/link-key.pem",
    )
    for name, port in (("yunnan", 5671), ("hanoi", 5675))
}
PASSWORDS = {("yunnan", "hanoi"): "pw-y-to-h", ("hanoi", "yunnan"): "pw-h-to-y"}


def links_by_ends() -> dict[tuple[str, str], frozenset[tuple[str, str]]]:
    return {(link.from_site, link.to_site): link.pairs for link in site_links(ROUTES, SITE_OF)}


def test_each_link_carries_exactly_the_allowed_pairs_both_ways() -> None:
    assert links_by_ends() == {
        ("yunnan", "hanoi"): frozenset({(HK, VN)}),
        ("hanoi", "yunnan"): frozenset({(VN, HK)}),  # receipts and responses come back
        ("yunnan", "vientiane"): frozenset({(MH, LA)}),
        ("vientiane", "yunnan"): frozenset({(LA, MH)}),
    }


def test_an_office_without_a_site_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="no site for VN-BCA-C02"):
        site_links(ROUTES, {k: v for k, v in SITE_OF.items() if k != VN})


def yunnan_document() -> dict[str, Any]:
    """yunnan's definitions with its links to hanoi (vientiane is not in SITES)."""
    links = [link for link in site_links(ROUTES, SITE_OF)
             if "vientiane" not in (link.from_site, link.to_site)]  # fmt: skip
    local = [r for r in ROUTES if SITE_OF[r.office_id] == "yunnan"]
    base = build_definitions(local, vhost="liaison", passwords={HK: "a", MH: "b"})
    return add_links(base, links, site="yunnan", passwords=PASSWORDS, user_prefix="t1-")


def test_the_outbound_queue_is_bound_with_exactly_the_allowed_routing_keys() -> None:
    document = yunnan_document()
    [queue] = [q for q in document["queues"] if q["name"].startswith("outbound.")]
    assert queue["name"] == "outbound.hanoi"
    assert queue["arguments"] == {"x-queue-type": "quorum"}
    bound = [(b["source"], b["routing_key"]) for b in document["bindings"]
             if b["destination"] == queue["name"]]  # fmt: skip
    assert bound == [(ENVELOPE_EXCHANGE, "from.cn-yn-blo-hk.to.vn-bca-c02")]


def test_the_link_user_lives_on_the_far_site_with_least_privilege_and_the_impersonator_tag() -> (
    None
):
    document = yunnan_document()
    users = {u["name"]: u for u in document["users"]}
    hanoi_link = users["t1-link.from.hanoi"]
    assert hanoi_link["tags"] == ["impersonator"]
    assert password_matches("pw-h-to-y", hanoi_link["password_hash"])
    assert "pw-h-to-y" not in json.dumps(document)
    # yunnan's own link user lives on hanoi, not here.
    assert "t1-link.from.yunnan" not in users
    [perm] = [p for p in document["permissions"] if p["user"] == "t1-link.from.hanoi"]
    assert (perm["configure"], perm["write"], perm["read"]) == ("^$", r"^liaison\.envelopes$", "^$")
    [topic] = [p for p in document["topic_permissions"] if p["user"] == "t1-link.from.hanoi"]
    assert topic["exchange"] == ENVELOPE_EXCHANGE
    assert topic["write"] == r"^(from\.vn-bca-c02\.to\.cn-yn-blo-hk)$"
    assert topic["read"] == "^$"


def test_the_topic_regex_matches_the_pairs_and_not_their_cross_product() -> None:
    pairs = frozenset({(VN, HK), (LA, MH)})
    allowed = re.compile(link_permissions(pairs).topic_write)
    for key in ("from.vn-bca-c02.to.cn-yn-blo-hk", "from.la-mops-atd.to.cn-yn-blo-mh"):
        assert allowed.fullmatch(key)
    for key in (
        "from.vn-bca-c02.to.cn-yn-blo-mh",  # each sender and recipient allowed, not together
        "from.la-mops-atd.to.cn-yn-blo-hk",
        "from.vn-bca-c02.to.cn-yn-blo-hk.x",
        "from.vn-bca-c02xto.cn-yn-blo-hk",
        "from.*.to.cn-yn-blo-hk",
    ):
        assert not allowed.search(key), key
    assert link_permissions(frozenset()).topic_write == "^$"


def test_a_link_user_can_never_be_an_office_user() -> None:
    assert link_user("yunnan") == "link.from.yunnan"
    assert link_user("yunnan", user_prefix="t1-") == "t1-link.from.yunnan"
    assert office_of_user("link.from.yunnan") is None


def test_the_shovel_moves_the_outbound_queue_over_verified_tls_with_confirms() -> None:
    [shovel] = shovel_parameters(
        [link for link in site_links(ROUTES, SITE_OF) if link.to_site == "hanoi"],
        site="yunnan", vhost="liaison", sites=SITES, passwords=PASSWORDS, user_prefix="t1-",
    )  # fmt: skip
    assert (shovel["vhost"], shovel["component"], shovel["name"]) == ("liaison", "shovel",
                                                                       "to.hanoi")  # fmt: skip
    value = shovel["value"]
    assert value["src-uri"] == "amqp:///liaison"
    assert value["src-queue"] == "outbound.hanoi"
    assert value["dest-exchange"] == ENVELOPE_EXCHANGE
    assert value["ack-mode"] == "on-confirm"
    assert value["dest-add-forward-headers"] is False
    assert value["reconnect-delay"] == 5
    uri = urlsplit(value["dest-uri"])
    assert (uri.scheme, uri.hostname, uri.port, uri.path) == ("amqps", "hanoi-1.example", 5675,
                                                              "/liaison")  # fmt: skip
    assert (uri.username, uri.password) == ("t1-link.from.yunnan", "pw-y-to-h")
    assert parse_qs(uri.query) == {
        "cacertfile": ["/tls/yunnan/ca.pem"],  # this site's files: it is the client
        "certfile": ["/tls/yunnan/link.pem"],
        "keyfile": ["/tls/yunnan/link-key.pem"],
        "verify": ["verify_peer"],
        "server_name_indication": ["hanoi-1.example"],
    }


def test_a_shovel_to_a_site_missing_from_the_sites_file_is_refused() -> None:
    links = [link for link in site_links(ROUTES, SITE_OF) if link.to_site == "hanoi"]
    with pytest.raises(InputError, match=r"no \[sites.yunnan\]"):
        shovel_parameters(links, site="yunnan", vhost="liaison",
                          sites={"hanoi": SITES["hanoi"]}, passwords=PASSWORDS)  # fmt: skip


SITES_TOML = """
[sites.yunnan]
host = "kunming-1.example"
ca_file = "/etc/rabbitmq/tls/ca.pem"
cert_file = "/etc/rabbitmq/tls/link.pem"
key_file = "/etc/rabbitmq/tls/link-key.pem"
"""


def test_the_sites_file_has_defaults_and_refuses_what_a_uri_cannot_carry() -> None:
    site = parse_sites(SITES_TOML.encode())["yunnan"]
    assert (site.port, site.vhost, site.tls_name, site.reconnect_delay) == (
        5671, "liaison", "kunming-1.example", 5,
    )  # fmt: skip
    bad = {
        'ca_file = "/etc/rabbitmq/tls/ca.pem"': ('ca_file = "tls/ca.pem"', "absolute path"),
        'host = "kunming-1.example"': ('host = "a b"', "not a host name"),
        "[sites.yunnan]": ("[sites.Yunnan]", "not a site name"),
    }
    for old, (new, why) in bad.items():
        with pytest.raises(InputError, match=why):
            parse_sites(SITES_TOML.replace(old, new).encode())
    with pytest.raises(InputError, match=r"sites.yunnan.key_file: missing"):
        parse_sites(SITES_TOML.replace('key_file = "/etc/rabbitmq/tls/link-key.pem"', "").encode())
    with pytest.raises(InputError, match="unknown key 'password'"):
        parse_sites((SITES_TOML + 'password = "x"\n').encode())
    with pytest.raises(InputError, match="port: must be a whole number"):
        parse_sites((SITES_TOML + 'port = "5671"\n').encode())


# ---------------------------------------------------------------- the command line

Liaison = Callable[..., CliResult]


@pytest.fixture
def run(liaison: Liaison, monkeypatch: pytest.MonkeyPatch) -> Liaison:
    monkeypatch.setitem(cli.commands, "broker", broker)
    return lambda *args: liaison("broker", *args)


@pytest.fixture
def sites_file(tmp_path: Path) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(
        SITES_TOML + SITES_TOML.replace("yunnan", "hanoi").replace("kunming-1", "hanoi-1")
    )
    return path


def generate(run: Liaison, tmp_path: Path, sites_file: Path, site: str, *extra: str) -> CliResult:
    return run("definitions", "--directory", str(DIRECTORY_FILE), "--root", str(ROOT_FILE),
               "--site", site, "--sites", str(sites_file), "--link-secrets",
               str(tmp_path / "links"), "--out", str(tmp_path / site), "--json",
               *extra)  # fmt: skip


def test_two_sites_runs_share_link_passwords_and_keep_them_out_of_definitions(
    run: Liaison, tmp_path: Path, sites_file: Path
) -> None:
    for site in ("yunnan", "hanoi"):
        result = generate(run, tmp_path, sites_file, site)
        assert result.code == 0, result.err
    report = json.loads(result.out)  # hanoi's
    assert [(link["direction"], link["site"]) for link in report["links"]] == [
        ("out", "yunnan"), ("in", "yunnan"),
    ]  # fmt: skip
    # Offices at sites without a link stay unroutable, and are said to be.
    assert "CN-YN-BLO-HK" not in report["remote_partners"]
    assert "CN-MPS-OCT" in report["remote_partners"]
    secrets_dir = tmp_path / "links"
    y_to_h = (secrets_dir / "hanoi" / "link.from.yunnan.amqp-password").read_text()
    h_to_y = (secrets_dir / "yunnan" / "link.from.hanoi.amqp-password").read_text()
    for secret in secrets_dir.rglob("*.amqp-password"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    for site, own, far in (("yunnan", h_to_y, y_to_h), ("hanoi", y_to_h, h_to_y)):
        definitions = (tmp_path / site / "definitions.json").read_text()
        shovels_file = tmp_path / site / "shovels.json"
        assert y_to_h not in definitions
        assert h_to_y not in definitions
        assert stat.S_IMODE(shovels_file.stat().st_mode) == 0o600
        # The user living here has the hash of the password the far site's shovel uses.
        [user] = [u for u in json.loads(definitions)["users"] if u["tags"] == ["impersonator"]]
        assert password_matches(own, user["password_hash"])
        [shovel] = json.loads(shovels_file.read_text())
        assert urlsplit(shovel["value"]["dest-uri"]).password == far


def test_sites_needs_a_directory_and_a_site(run: Liaison, tmp_path: Path, sites_file: Path) -> None:
    result = run("definitions", "--directory", str(DIRECTORY_FILE), "--root", str(ROOT_FILE),
                 "--sites", str(sites_file), "--link-secrets", str(tmp_path / "l"),
                 "--out", str(tmp_path / "o"))  # fmt: skip
    assert result.code == 2
    assert "--sites needs --directory, --root and --site" in result.err


def test_apply_feeds_the_shovels_on_stdin_never_on_the_command_line(
    run: Liaison, tmp_path: Path, sites_file: Path
) -> None:
    assert generate(run, tmp_path, sites_file, "yunnan").code == 0
    folder = tmp_path / "node"
    folder.mkdir()
    node = FakeNode(folder)
    applied = run("apply", str(tmp_path / "yunnan" / "definitions.json"), "--vhost", "liaison",
                  "--rabbitmqctl", str(node.script), "--json")  # fmt: skip
    assert applied.code == 0, applied.err
    assert json.loads(applied.out)["shovels"] == ["to.hanoi"]
    [parameter] = node.definitions["parameters"]
    assert parameter["name"] == "to.hanoi"
    password = (tmp_path / "links" / "hanoi" / "link.from.yunnan.amqp-password").read_text()
    assert password in parameter["value"]["dest-uri"]
    assert password not in json.dumps(node.calls())
    assert [c[0] for c in node.calls()].count("import_definitions") == 2


def test_apply_refuses_a_shovels_file_others_can_read(
    run: Liaison, tmp_path: Path, sites_file: Path
) -> None:
    assert generate(run, tmp_path, sites_file, "yunnan").code == 0
    (tmp_path / "yunnan" / "shovels.json").chmod(0o644)
    applied = run("apply", str(tmp_path / "yunnan" / "definitions.json"), "--vhost", "liaison",
                  "--rabbitmqctl", "/nonexistent/rabbitmqctl")  # fmt: skip
    assert applied.code == 4
    assert "readable by others" in applied.err
