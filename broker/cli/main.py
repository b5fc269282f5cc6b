"""The root of the ``liaison`` command tree and the one place errors become exit codes."""

from __future__ import annotations

import sys
import traceback
from typing import NoReturn

import click
from rich.markup import escape

from broker import __version__
from broker.cli.adapters_cmd import adapters
from broker.cli.audit_cmd import audit
from broker.cli.backup_cmd import COMMANDS as BACKUP_COMMANDS
from broker.cli.broker_cmd import broker
from broker.cli.config_cmd import config
from broker.cli.demo_cmd import demo_command
from broker.cli.directory_cmd import directory
from broker.cli.envelope_cmd import open_command, seal_command, verify_command
from broker.cli.keys_cmd import keys
from broker.cli.office_cmd import COMMANDS as OFFICE_COMMANDS
from broker.cli.output import err
from broker.errors import (
    EXIT_INTERNAL,
    EXIT_USAGE,
    ConfigError,
    LiaisonError,
    PeerError,
)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="liaison")
@click.option("--debug", is_flag=True, help="On an error, also print the Python traceback.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Liaison: signed, end-to-end encrypted case enquiries between police liaison offices.

    \b
    A typical office:
      liaison keys generate --office CN-YN-BLO-HK --out keys/   make the office's key pairs
      liaison config check office.toml                         validate its configuration
      liaison daemon --config office.toml                      run it: inbox, outbox, receipts
      liaison submit enquiry.json --to VN-BCA-C02              send an enquiry
      liaison status --overdue                                 what needs chasing
      liaison audit verify data/exchange-log.db                check the tamper-evident log

    Every command explains itself with --help. Exit codes are listed in README.md.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


cli.add_command(demo_command)
cli.add_command(config)
cli.add_command(keys)
cli.add_command(directory)
cli.add_command(broker)
cli.add_command(audit)
cli.add_command(adapters)
for _command in (*OFFICE_COMMANDS.values(), *BACKUP_COMMANDS.values()):
    cli.add_command(_command)
cli.add_command(seal_command)
cli.add_command(open_command)
cli.add_command(verify_command)


def _fail(error: LiaisonError, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exception(error)
    # The operator may see a rejected message's exact reason; the peer only ever saw "rejected".
    text = error.explain() if isinstance(error, PeerError) else error.diagnosis
    err.print(f"[bold red]error:[/] {escape(text)}", markup=True, highlight=False)
    if isinstance(error, ConfigError):
        for problem in error.problems:
            err.print(f"  - {problem}", markup=False)
    sys.exit(error.exit_code)


def run(argv: list[str] | None = None) -> NoReturn:
    """Console-script entry point: run the CLI; turn every outcome into a documented exit code."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=argv, prog_name="liaison", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(EXIT_INTERNAL)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except LiaisonError as exc:
        _fail(exc, debug)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no raw traceback by default
        if debug:
            traceback.print_exception(exc)
        err.print(
            f"internal error: {type(exc).__name__} (a bug; run with --debug for the traceback"
            " and report it)",
            markup=False,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
