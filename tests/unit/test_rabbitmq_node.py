"""``broker.rabbitmq_node`` without starting a node: what is missing is said, and the node's
configuration binds loopback only and demands client certificates. (Started for real by
tests/integration/test_two_site.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.errors import ConfigError, NotAvailable
from broker.rabbitmq_node import NodeTls, RabbitNode


def test_a_missing_rabbitmq_server_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIAISON_RABBITMQ_BIN", str(tmp_path / "nowhere"))
    node = RabbitNode(tmp_path / "node", amqp_port=1)
    with pytest.raises(NotAvailable) as caught:
        node.start()
    assert "rabbitmq-server and rabbitmqctl not found" in str(caught.value)
    assert "apt-get install rabbitmq-server" in str(caught.value)
    assert "LIAISON_RABBITMQ_BIN" in str(caught.value)
    assert not node.running


def test_the_configuration_binds_loopback_and_requires_client_certificates(
    tmp_path: Path,
) -> None:
    tls = NodeTls(tmp_path / "ca.pem", tmp_path / "node.pem", tmp_path / "node-key.pem")
    node = RabbitNode(tmp_path / "node", amqp_port=5801, amqps_port=5802, tls=tls, dist_port=5803)
    node._write_files(tmp_path / "bin")
    config = (tmp_path / "node" / "rabbitmq.conf").read_text().splitlines()
    assert "listeners.tcp.1 = 127.0.0.1:5801" in config
    assert "listeners.ssl.1 = 127.0.0.1:5802" in config
    assert "ssl_options.verify = verify_peer" in config
    assert "ssl_options.fail_if_no_peer_cert = true" in config
    assert not any("default" in line or "management" in line for line in config)
    plugins = (tmp_path / "node" / "enabled_plugins").read_text()
    assert plugins == "[rabbitmq_shovel].\n"
    env = node._env()
    assert env["HOME"] == str((tmp_path / "node" / "home").resolve())
    assert env["RABBITMQ_DIST_PORT"] == "5803"
    assert "inet_dist_use_interface {127,0,0,1}" in env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    assert node.url("guest", "g/p", "liaison") == "amqp://guest:g%2Fp@127.0.0.1:5801/liaison"


def test_an_amqps_port_needs_tls_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs its TLS files"):
        RabbitNode(tmp_path, amqp_port=5801, amqps_port=5802)
