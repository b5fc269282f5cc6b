"""The hand-over spool: one private file per message, written whole and never twice; and the
message files people give the commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from broker.errors import ConfigError, InputError
from broker.spool import Spool, read_message_file

MESSAGE_ID = bytes(range(16))


def test_a_message_is_handed_over_once_in_a_private_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "data")
    assert not spool.handed_over(MESSAGE_ID)
    assert spool.hand_over(MESSAGE_ID, '{"a": 1}') is True
    path = spool.path_for(MESSAGE_ID)
    assert path == tmp_path / "data" / "spool" / "in" / f"{MESSAGE_ID.hex()}.json"
    assert json.loads(path.read_text("utf-8")) == {"a": 1}
    assert path.read_bytes().endswith(b"}\n")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / "spool").stat().st_mode & 0o777 == 0o700
    assert spool.hand_over(MESSAGE_ID, '{"a": 2}') is False  # already handed over: kept
    assert json.loads(path.read_text("utf-8")) == {"a": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left


def test_a_file_the_office_took_away_is_not_written_again_by_a_racing_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path)
    spool.hand_over(bytes(16), "{}")  # creates the folders
    real_link = os.link

    def racing_link(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        Path(dst).write_text("{}")  # another writer got there first
        real_link(src, dst)

    monkeypatch.setattr(os, "link", racing_link)
    assert spool.hand_over(MESSAGE_ID, '{"late": true}') is False
    assert json.loads(spool.path_for(MESSAGE_ID).read_text("utf-8")) == {}
    assert len(list(spool.inbound.iterdir())) == 2


def test_a_full_disk_is_a_config_error_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path)

    def no_space(*_args: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(ConfigError, match="No space left on device"):
        spool.hand_over(MESSAGE_ID, "{}")
    assert list(spool.inbound.iterdir()) == []
    with pytest.raises(InputError):
        spool.path_for(b"short")


def test_message_files_are_utf8_text(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"summary": "Chén Xiǎoyàn"}', encoding="utf-8")
    assert "Xiǎoyàn" in read_message_file(good)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe{}")
    with pytest.raises(InputError, match="not UTF-8"):
        read_message_file(bad)
    with pytest.raises(InputError, match="cannot read response"):
        read_message_file(tmp_path / "missing.json", what="response")
