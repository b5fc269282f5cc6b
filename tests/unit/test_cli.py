"""The command tree: help that lists every group, stable exit codes, no raw tracebacks."""

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from broker import __version__
from broker.cli.main import cli
from broker.errors import (
    ConfigError,
    InputError,
    IntegrityError,
    InvalidMessage,
    KeyFileError,
    NotAvailable,
    PeerError,
    PolicyRefused,
    RejectReason,
    TransportError,
)

GROUPS = ["keys", "seal", "open", "directory", "submit", "daemon", "status", "audit", "adapters",
          "broker", "demo", "config", "verify", "inbox", "respond",
          "backup", "restore"]  # fmt: skip


def test_help_lists_every_command_group(liaison) -> None:
    result = liaison("--help")
    assert result.code == 0
    commands = result.out.split("Commands:")[1]
    listed = set(re.findall(r"^  (\S+)", commands, flags=re.MULTILINE))
    assert listed == set(GROUPS)


@pytest.mark.parametrize("name", GROUPS)
def test_every_group_has_a_teaching_help_text(liaison, name: str) -> None:
    result = liaison(name, "--help")
    assert result.code == 0
    assert f"Usage: liaison {name}" in result.out
    command = cli.commands[name]
    assert command.help
    assert len(command.help.split()) >= 8


def test_version(liaison) -> None:
    result = liaison("--version")
    assert result.code == 0
    assert result.out.strip() == f"liaison, version {__version__}"


def test_unknown_command_exits_2_with_a_hint(liaison) -> None:
    result = liaison("sael")
    assert result.code == 2
    assert "No such command 'sael'" in result.err
    assert "Did you mean 'seal'?" in result.err


def test_bad_option_exits_2_with_a_hint(liaison) -> None:
    result = liaison("--colour")
    assert result.code == 2
    assert "No such option '--colour'" in result.err
    assert "Try 'liaison --help'" in result.err


def test_no_arguments_shows_help(liaison) -> None:
    result = liaison()
    assert result.code == 2
    assert "Commands:" in result.out


def test_exit_codes_are_stable() -> None:
    # README.md documents these; scripts rely on them.
    assert ConfigError("x").exit_code == 3
    assert KeyFileError("x").exit_code == 4
    assert InputError("x").exit_code == 5
    assert InvalidMessage("a.b", "x").exit_code == 5
    assert PolicyRefused("R1", "x").exit_code == 6
    assert NotAvailable("x").exit_code == 7
    assert PeerError(RejectReason.REPLAY).exit_code == 10
    assert TransportError("x").exit_code == 20
    assert IntegrityError("x").exit_code == 30


def test_peer_errors_say_only_rejected_outward() -> None:
    error = PeerError(RejectReason.BAD_SIGNATURE, "signature by key 01ab does not verify")
    assert str(error) == "message rejected"
    assert error.reason is RejectReason.BAD_SIGNATURE
    assert error.explain() == (
        "message rejected (bad-signature): signature by key 01ab does not verify"
    )


def _boom_command(exc: BaseException) -> click.Command:
    @click.command("boom")
    def boom() -> None:
        raise exc

    return boom


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (InputError("enquiry.json: persons[0].sex: must be 0, 1, 2 or 9"), 5, "persons[0].sex"),
        (RuntimeError("Nguyễn Thị Lan"), 1, "internal error: RuntimeError"),
        (ValueError("secret"), 1, "internal error: ValueError"),
    ],
)
def test_errors_become_one_line_diagnoses_without_traceback(
    liaison, monkeypatch: pytest.MonkeyPatch, exc: BaseException, code: int, text: str
) -> None:
    monkeypatch.setitem(cli.commands, "boom", _boom_command(exc))
    result = liaison("boom")
    assert result.code == code
    assert text in result.err
    assert "Traceback" not in result.err
    assert "Nguyễn" not in result.err
    assert "secret" not in result.err
    debug = liaison("--debug", "boom")
    assert "Traceback" in debug.err


def test_the_installed_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "liaison"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "Commands:" in result.stdout
