"""What a benchmark report says about the machine and the code it ran: CPU, cores, RAM, the
kernel, Python and the libraries that do the work, RabbitMQ's version, the git commit."""

from __future__ import annotations

import os
import platform
import sqlite3  # noqa: TID251 - only the library's version is read
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("cryptography", "pynacl", "protobuf", "pika", "joserfc")


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _command(*args: str) -> str | None:
    try:
        done = subprocess.run(args, capture_output=True, timeout=30, check=False, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "replace").strip() if done.returncode == 0 else None


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> dict[str, object]:
    mem_kib = _first("/proc/meminfo", "MemTotal")
    status = _command("git", "status", "--porcelain")
    return {
        "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "ram_gb": round(int(mem_kib.split()[0]) * 1024 / 1e9, 1) if mem_kib else None,
        "machine": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "libraries": {name: _version(name) for name in LIBRARIES},
        "rabbitmq": _command("rabbitmqctl", "--quiet", "version") or "unknown",
        "git_commit": _command("git", "rev-parse", "HEAD") or "unknown",
        "git_dirty": bool(status) if status is not None else None,
    }
