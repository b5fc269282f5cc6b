"""``liaison config``: check an office's configuration file, or print a commented example."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click
from rich.console import Console

from broker.cli.output import emit, json_option, out
from broker.config import check_files, load_config
from broker.errors import ConfigError, ConfigProblem


@click.group()
def config() -> None:
    """Check an office's configuration file; print a commented example.

    \b
      liaison config example > office.toml     a commented starting point
      liaison config check office.toml         report every problem, with its key path
    """


@config.command()
def example() -> None:
    """Print a commented example configuration to start from."""
    out.file.write(files("broker").joinpath("office.example.toml").read_text(encoding="utf-8"))


@config.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--no-files",
    is_flag=True,
    help="Check the file alone; skip checking that the keys, directory and secrets it names exist.",
)
@json_option
def check(path: Path, no_files: bool, as_json: bool) -> None:
    """Validate a configuration file and report every problem with its key path.

    Exits 0 when the file is valid, 3 when it is not (each problem on its own line, such as
    "amqp.urls: a URL must not contain a password; put it in amqp.password_file").
    """
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if as_json:
            emit(_report(path, exc.problems, exc.diagnosis), as_json=True, human=_silent)
        raise
    problems = [] if no_files else check_files(cfg)
    if problems:
        error = ConfigError(f"{path}: the files it names have problems", problems)
        if as_json:
            emit(_report(path, problems, error.diagnosis), as_json=True, human=_silent)
        raise error

    def human(console: Console) -> None:
        console.print(f"{path}: valid configuration for office {cfg.office.id}")

    emit(_report(path, [], None) | {"office": cfg.office.id}, as_json=as_json, human=human)


def _silent(console: Console) -> None:
    """Nothing to add for a person: the error that follows says it all."""


def _report(
    path: Path, problems: tuple[ConfigProblem, ...] | list[ConfigProblem], error: str | None
) -> dict[str, object]:
    return {
        "file": str(path),
        "valid": error is None,
        "error": error,
        "problems": [{"key": p.key_path, "problem": p.message} for p in problems],
    }
