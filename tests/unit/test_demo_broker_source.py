"""Where `liaison demo` looks for a broker, and what it says when there is none."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from broker import rabbitmq_node
from broker.demo import broker_source
from broker.errors import NotAvailable


def test_with_no_broker_no_rabbitmq_and_no_docker_it_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIAISON_AMQP_URL", raising=False)
    monkeypatch.setattr(broker_source, "_listening", lambda *_where: False)

    def not_installed() -> Path:
        raise NotAvailable("rabbitmq-server is not installed")

    monkeypatch.setattr(rabbitmq_node, "rabbitmq_bin", not_installed)
    real_import = builtins.__import__

    def no_testcontainers(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("testcontainers"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_testcontainers)
    said: list[str] = []
    with (
        pytest.raises(NotAvailable) as refused,
        broker_source.find_broker(tmp_path, say=said.append),
    ):
        pass
    text = str(refused.value)
    assert "apt-get install rabbitmq-server" in text
    assert "LIAISON_AMQP_URL" in text
    assert "Docker" in text
    assert refused.value.exit_code == 7


def test_a_url_whose_broker_cannot_be_managed_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIAISON_AMQP_URL", "amqp://u:p@broker.example:5672/%2F")
    monkeypatch.setenv("LIAISON_RABBITMQCTL", str(tmp_path / "no-such-rabbitmqctl"))
    with (
        pytest.raises(NotAvailable, match="set LIAISON_RABBITMQCTL"),
        broker_source.find_broker(tmp_path, say=print),
    ):
        pass
