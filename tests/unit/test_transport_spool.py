"""Folders as a transport: files written whole and never twice, private, and a pickup folder
that takes only settled files and files each one under done/ or failed/ with its reason; and
the message files people give the commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adapters.base import Encoded
from adapters.transports import HandOver, Transport
from adapters.transports.spool import PickupFolder, SpoolTransport, write_once
from broker.errors import ConfigError, InputError
from broker.spool import read_message_file

MESSAGE_ID = bytes(range(16))


def handover(data: bytes = b'{"a": 1}\n', suffix: str = ".json") -> HandOver:
    return HandOver(MESSAGE_ID, "enquiry", "CN-YN-BLO-HK", Encoded(data, "x/y", suffix))


def test_a_message_is_handed_over_once_in_a_private_file(tmp_path: Path) -> None:
    transport = SpoolTransport(tmp_path / "data" / "spool" / "in")
    assert isinstance(transport, Transport)
    assert transport.deliver(handover()) == f"{MESSAGE_ID.hex()}.json"
    path = transport.path_for(handover())
    assert path == tmp_path / "data" / "spool" / "in" / f"{MESSAGE_ID.hex()}.json"
    assert json.loads(path.read_text("utf-8")) == {"a": 1}
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / "spool").stat().st_mode & 0o777 == 0o700
    transport.deliver(handover(b'{"a": 2}\n'))  # already handed over: the first one is kept
    assert json.loads(path.read_text("utf-8")) == {"a": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left


def test_a_file_the_office_took_away_is_not_written_again_by_a_racing_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_once(tmp_path, "first.json", b"{}")  # creates the folder
    real_link = os.link

    def racing_link(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        Path(dst).write_text("{}")  # another writer got there first
        real_link(src, dst)

    monkeypatch.setattr(os, "link", racing_link)
    assert write_once(tmp_path, "late.json", b'{"late": true}') is False
    assert json.loads((tmp_path / "late.json").read_text("utf-8")) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.json", "late.json"]


def test_a_full_disk_is_a_config_error_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*_args: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(ConfigError, match="No space left on device"):
        write_once(tmp_path, "x.json", b"{}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "../x.json", "a/b.json", ".hidden", ".."])
def test_only_plain_file_names_are_written(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError):
        write_once(tmp_path, name, b"{}")
    assert list(tmp_path.iterdir()) == []


def test_the_pickup_folder_takes_settled_files_only(tmp_path: Path) -> None:
    folder = PickupFolder(tmp_path / "pickup", max_bytes=100)
    folder.prepare()
    (folder.folder / "answer.xlsx").write_bytes(b"one")
    (folder.folder / ".hidden.xlsx").write_bytes(b"x")
    (folder.folder / "upload.xlsx.part").write_bytes(b"x")
    (folder.folder / "link.xlsx").symlink_to(tmp_path / "elsewhere")
    assert list(folder.ready()) == []  # first look: sizes noted, nothing taken yet
    (folder.folder / "answer.xlsx").write_bytes(b"one two")  # still being written
    assert list(folder.ready()) == []
    [picked] = folder.ready()
    assert (picked.name, picked.suffix, folder.read(picked)) == ("answer.xlsx", ".xlsx", b"one two")


def test_each_file_ends_in_done_or_failed_with_its_story(tmp_path: Path) -> None:
    folder = PickupFolder(tmp_path / "pickup", max_bytes=4)
    folder.prepare()
    for name, data in (("good.csv", b"data"), ("bad.csv", b"data"), ("big.csv", b"data!")):
        (folder.folder / name).write_bytes(data)
    list(folder.ready())
    picked = {p.name: p for p in folder.ready()}
    with pytest.raises(InputError, match="larger than 4 bytes"):
        folder.read(picked["big.csv"])
    folder.succeeded(picked["good.csv"], {"message_id": "ab"})
    folder.refused(picked["bad.csv"], "InputError: row 3, column phone: not E.164")
    (folder.folder / "bad.csv").write_bytes(b"data")  # the same name again, later
    list(folder.ready())
    again = {p.name: p for p in folder.ready()}
    assert sorted(again) == ["bad.csv", "big.csv"]  # big.csv waits: reading it failed
    folder.refused(again["bad.csv"], "still bad")
    assert json.loads((folder.done / "good.csv.result.json").read_text()) == {"message_id": "ab"}
    assert (folder.failed / "bad.csv.reason.txt").read_text() == (
        "InputError: row 3, column phone: not E.164\n"
    )
    assert (folder.failed / "bad.1.csv.reason.txt").read_text() == "still bad\n"
    assert sorted(p.name for p in folder.folder.iterdir()) == ["big.csv", "done", "failed"]


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
