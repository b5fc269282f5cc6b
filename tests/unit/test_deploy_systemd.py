"""The example systemd unit (deploy/systemd/liaison-daemon@.service) runs a real ``liaison``
command with options the CLI has, and keeps the hardening docs/operations.md describes."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import click
import pytest

from broker.cli.main import cli
from broker.cli.office_cmd import COMMANDS

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "liaison-daemon@.service"


def service() -> dict[str, list[str]]:
    """The [Service] section; a key given twice (SystemCallFilter) keeps every value."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    values: dict[str, list[str]] = {}
    text = UNIT.read_text(encoding="utf-8")
    for line in text.splitlines():  # configparser keeps the last of repeated keys: count them
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "[", " ")):
            values.setdefault(key, []).append(value)
    parser.read_string(text)
    assert set(parser.sections()) == {"Unit", "Service", "Install"}
    assert set(parser["Service"]) <= set(values)
    return values


def liaison_argv(exec_start: str, instance: str) -> list[str]:
    """The arguments after ``liaison`` in ExecStart (through ``sh -c``, up to a redirect)."""
    words = shlex.split(exec_start.replace("%i", instance))
    if words[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(words[2])
    start = next(i for i, word in enumerate(words) if word.endswith("/liaison")) + 1
    argv = []
    for word in words[start:]:
        if "<" in word:
            break
        argv.append(word)
    return argv


def test_the_unit_runs_the_daemon_command_with_options_it_has() -> None:
    values = service()
    [exec_start] = values["ExecStart"]
    argv = liaison_argv(exec_start, "cn-yn-blo-hk")
    assert argv[0] == "daemon"
    command = cli.commands[argv[0]]
    assert command is COMMANDS["daemon"]
    # Parsing fails on an option the command lacks or a value of the wrong type.
    context = command.make_context("daemon", argv[1:])
    assert context.params["config_path"] == Path("/etc/liaison/cn-yn-blo-hk.toml")
    assert context.params["passphrase_fd"] == 3
    # The passphrase comes from the credential on fd 3, which LoadCredential provides.
    assert values["LoadCredential"] == ["passphrase:/etc/liaison/credentials/%i.passphrase"]
    assert '3<"${CREDENTIALS_DIRECTORY}/passphrase"' in exec_start
    with pytest.raises(click.NoSuchOption):
        command.make_context("daemon", [*argv[1:], "--no-such-option"])


def test_the_unit_restarts_on_failure_and_is_hardened() -> None:
    values = service()
    one = {key: found[-1] for key, found in values.items()}
    assert (one["User"], one["Restart"]) == ("liaison", "on-failure")
    assert one["RestartPreventExitStatus"].split() == ["2", "3", "4", "7", "30"]
    assert one["LimitCORE"] == "0"
    assert one["ReadWritePaths"] == "/var/lib/liaison/%i" == f"/var/lib/{one['StateDirectory']}"
    assert one["CapabilityBoundingSet"] == ""
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "UMask": "0077",
    }.items():
        assert one[key] == value, key
    assert values["SystemCallFilter"] == ["@system-service", "~@privileged"]
    # The daemon's own stop (drain 5 s + link stop 10 s) fits before systemd's SIGKILL.
    assert int(one["TimeoutStopSec"]) > 15
