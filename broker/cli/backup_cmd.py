"""``liaison backup | restore``: an office's data folder into one tar file and back
(docs/operations.md, "Backup and restore"; the work is in broker/backup.py and
broker/restore.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console

from broker.backup import backup_office
from broker.cli.office_cmd import config_option
from broker.cli.output import emit, err, json_option
from broker.config import load_config
from broker.restore import restore_office, verify_restored


@click.command("backup")
@config_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.tar",
    help="The backup file to write (mode 0600; refused if it exists).",
)
@json_option
def backup_command(*, config_path: Path, out: Path, as_json: bool) -> None:
    """Back up the office's data folder into one tar file, while the daemon runs.

    \b
      liaison backup --config office.toml --out backups/cn-yn-blo-hk-2026-05-09.tar
    \b
    Holds online copies of office.db and exchange-log.db (taken together, consistent), the
    envelope store, the accepted trust directory and a manifest with every file's SHA-256 and
    the log's size, root and latest checkpoint. It holds envelopes (encrypted) and metadata:
    keep it as private as the data folder. Private keys are NOT included: back the key folder
    up separately. The daemon's writes wait while the databases are copied.
    """
    config = load_config(config_path)
    now = datetime.now(UTC)
    manifest = backup_office(config.office.data_dir, out, office_id=config.office.id, now=now)
    summary = {
        "file": str(out),
        "office_id": manifest["office_id"],
        "created_at": manifest["created_at"],
        "files": len(manifest["files"]),
        "bytes": sum(entry["bytes"] for entry in manifest["files"].values()),
        "log": manifest["log"],
    }

    def human(console: Console) -> None:
        console.print(str(out))
        err.print(
            f"{summary['files']} files, {summary['bytes']:,} bytes; log of"
            f" {manifest['log']['entries']:,} entries. Keys are not included."
        )

    emit(summary, as_json=as_json, human=human)


@click.command("restore")
@click.argument(
    "archive", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE.tar"
)
@config_option
@click.option(
    "--force",
    is_flag=True,
    help="Restore over a data folder that holds data (moved into replaced-<time>-*/ there).",
)
@click.option("--workers", type=click.IntRange(min=1), help="Processes verifying the log.")
@json_option
def restore_command(
    *, archive: Path, config_path: Path, force: bool, workers: int | None, as_json: bool
) -> None:
    """Restore a backup into the office's data folder, and verify its log.

    \b
      liaison restore backups/cn-yn-blo-hk-2026-05-09.tar --config office.toml
    \b
    Refuses while a daemon runs on the folder (exit 3), and a folder that holds data unless
    --force (exit 3). Accepts only the files a backup holds (no absolute paths, '..' or
    links), checks each against the manifest's SHA-256, and verifies the restored log in full
    (tree, signed checkpoints, every envelope, as 'liaison audit verify --full'); on any
    problem nothing is put in place (exit 30). Restore the key folder separately.
    """
    config = load_config(config_path)
    now = datetime.now(UTC)
    restored = restore_office(
        archive,
        config.office.data_dir,
        office_id=config.office.id,
        verify=verify_restored(config, now=now, workers=workers),
        force=force,
        now=now,
    )
    data = restored.to_json() | {"data_dir": str(config.office.data_dir)}

    def human(console: Console) -> None:
        console.print(f"restored {data['files']} files into {config.office.data_dir}")
        console.print(f"log: {restored.report.summary()}")
        if restored.replaced is not None:
            err.print(f"the files it replaced are in {restored.replaced}")

    emit(data, as_json=as_json, human=human)


COMMANDS = {"backup": backup_command, "restore": restore_command}
