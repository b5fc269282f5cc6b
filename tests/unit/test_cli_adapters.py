"""``liaison adapters``: list, encode, decode and check through the real entry point."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import adapters.base
from broker.cli.adapters_cmd import adapters as adapters_group
from broker.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "case-response.json"
GOLDEN = ROOT / "adapters" / "json_format" / "examples" / "case-response.json"


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The json codec and a broken plugin, registered as entry points would register them."""
    points = [
        EntryPoint("json", "adapters.json_format:CODEC", adapters.base.ENTRY_POINT_GROUP),
        EntryPoint("broken", "adapters.no_such_module:CODEC", adapters.base.ENTRY_POINT_GROUP),
    ]

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [p for p in points if p.group == group]

    monkeypatch.setattr(adapters.base, "entry_points", entry_points)
    monkeypatch.setitem(cli.commands, "adapters", adapters_group)


def test_list_shows_codecs_and_a_broken_plugin_with_its_error(liaison) -> None:
    result = liaison("adapters", "list", "--json")
    assert result.code == 0
    rows = {row["name"]: row for row in json.loads(result.out)}
    assert rows["json"]["suffixes"] == [".json"]
    assert "ModuleNotFoundError" in rows["broken"]["error"]
    human = liaison("adapters", "list")
    assert human.code == 0
    assert "broken  unavailable" in human.out
    assert "json  .json" in human.out


def test_encode_writes_the_partner_bytes(liaison, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    result = liaison("adapters", "encode", "json", str(EXAMPLE), "-o", str(target))
    assert result.code == 0
    assert target.read_bytes() == GOLDEN.read_bytes()


def test_encode_to_stdout(liaison) -> None:
    result = liaison("adapters", "encode", "json", str(EXAMPLE), "--variant", "compact")
    assert result.code == 0
    assert json.loads(result.out)["type"] == "response"


def test_decode_prints_canonical_json(liaison) -> None:
    result = liaison("adapters", "decode", "json", str(GOLDEN))
    assert result.code == 0
    assert json.loads(result.out) == json.loads(EXAMPLE.read_text(encoding="utf-8"))
    wrapped = liaison("adapters", "decode", "json", str(GOLDEN), "--json")
    assert json.loads(wrapped.out)["losses"] == []


def test_decode_of_a_bad_file_exits_5_naming_the_place(liaison, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "response", "status": "MAYBE"}', encoding="utf-8")
    result = liaison("adapters", "decode", "json", str(bad))
    assert result.code == 5
    assert "$.status" in result.err


def test_check(liaison, tmp_path: Path) -> None:
    good = liaison("adapters", "check", "json", str(GOLDEN))
    assert good.code == 0
    assert "valid CaseResponse" in good.out
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"type":"receipt","a":1,"a":2}')
    result = liaison("adapters", "check", "json", str(bad))
    assert result.code == 5
    assert "repeats a key" in result.err


def test_unknown_and_broken_adapters_exit_7(liaison) -> None:
    assert liaison("adapters", "check", "nope", str(GOLDEN)).code == 7
    assert liaison("adapters", "decode", "broken", str(GOLDEN)).code == 7
