"""Fixtures shared by every layer of tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from broker.cli.main import run


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def liaison(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the real ``liaison`` entry point in-process; returns exit code, stdout and stderr."""

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            run(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - run() always exits
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke
