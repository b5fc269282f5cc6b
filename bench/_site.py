"""A throw-away Liaison site for the exchange benchmark: a fresh vhost and broker users made
from the generated definitions (``broker.topology`` + ``broker.rabbitmq_admin``, as the
integration tests do), two offices (HK asks VN; VN answers HK) with the DEMO keys of
keys/example, and ``liaison daemon`` processes started, watched and stopped by pid.

Needs a RabbitMQ at 127.0.0.1 (the local one on 5672 unless told otherwise; guest/guest) and
``rabbitmqctl`` able to manage it (root on the broker's host, or a private node's own script).
"""

from __future__ import annotations

import importlib.util
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Self

import pika  # noqa: TID251 - connection parameters for the raw pika baselines

from broker.config import load_config
from broker.daemon import Office, load_office
from broker.daemon.health import read_status
from broker.rabbitmq_admin import Rabbitmqctl, apply_definitions, remove_site
from broker.topology import (
    DEAD_LETTER_EXCHANGE,
    ENVELOPE_EXCHANGE,
    OfficeRoute,
    amqp_user,
    build_definitions,
    dead_letter_arguments,
    dead_letter_queue,
    dead_letter_routing_key,
    inbox_arguments,
    inbox_binding_key,
    inbox_queue,
    new_password,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "keys" / "example"
LIAISON = Path(sys.executable).with_name("liaison")
HK, VN = "CN-YN-BLO-HK", "VN-BCA-C02"
ROUTES = (OfficeRoute(HK, frozenset({VN})), OfficeRoute(VN, frozenset({HK})))
LOCAL_PORT = 5672
DELIVERY_LIMIT = 5


def _demo_keys() -> ModuleType:
    """keys/example/make.py, loaded by path (it is not a package)."""
    spec = importlib.util.spec_from_file_location("example_make", EXAMPLE / "make.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@dataclass
class Site:
    """A vhost ``liaison-bench-<hex>`` with users ``b<hex>-<office>``; guest may use it too
    (for the raw pika baselines). Removed, vhost and users, on exit."""

    folder: Path
    token: str = field(default_factory=lambda: secrets.token_hex(4))
    ctl: Rabbitmqctl = field(default_factory=Rabbitmqctl)
    port: int = LOCAL_PORT  # the broker's AMQP port on 127.0.0.1
    passwords: dict[str, str] = field(
        default_factory=lambda: {r.office_id: new_password() for r in ROUTES}, repr=False
    )

    @property
    def vhost(self) -> str:
        return f"liaison-bench-{self.token}"

    @property
    def user_prefix(self) -> str:
        return f"b{self.token}-"

    def __enter__(self) -> Self:
        definitions = build_definitions(
            ROUTES,
            vhost=self.vhost,
            passwords=self.passwords,
            user_prefix=self.user_prefix,
            delivery_limit=DELIVERY_LIMIT,
        )
        try:
            apply_definitions(definitions, ctl=self.ctl)
            self.ctl.run(
                "let guest in", "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"
            )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        remove_site(self.ctl, vhost=self.vhost, users_prefix=self.user_prefix)

    def guest(self) -> pika.ConnectionParameters:
        """guest/guest on this site's vhost (the raw baselines)."""
        params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{self.port}/%2F")
        params.virtual_host = self.vhost
        params.heartbeat = 60
        # The default 15 s for the TCP + AMQP handshake is too short for a broker busy
        # starting hundreds of quorum queues on a loaded 2-core machine.
        params.stack_timeout = 60
        return params

    def office(self, office_id: str, keys: Path) -> tuple[Path, Office]:
        """Write ``<folder>/<office>/office.toml`` and load the office it describes."""
        home = self.folder / office_id
        home.mkdir(parents=True)
        secret = home / "amqp-password"
        secret.write_text(self.passwords[office_id])
        secret.chmod(0o600)
        config_path = home / "office.toml"
        config_path.write_text(
            f'[office]\nid = "{office_id}"\ndata_dir = "data"\n'
            f'[keys]\ndir = "{keys / "offices" / office_id}"\n'
            f'[directory]\nfile = "{EXAMPLE / "directory.bin"}"\n'
            f'pinned_root = "{EXAMPLE / "root.json"}"\n'
            f'[amqp]\nurls = ["amqp://127.0.0.1:{self.port}/{self.vhost}"]\n'
            f'password_file = "amqp-password"\nuser_prefix = "{self.user_prefix}"\n'
            f'[log]\nformat = "json"\n',
            encoding="utf-8",
        )
        config = load_config(config_path)
        return config_path, load_office(config, passphrase=None, now=datetime.now(UTC))

    def user(self, office_id: str) -> str:
        return amqp_user(office_id, user_prefix=self.user_prefix)

    def broker_fds(self) -> tuple[int, int]:
        """(file descriptors the broker uses, its limit for them), from rabbitmqctl status.
        Each quorum queue holds some open: a broker out of them stops accepting connections,
        for everyone using it."""
        found = self.ctl.run_json("broker status", "status")["file_descriptors"]
        return int(found["total_used"]), int(found["total_limit"])

    def add_inboxes(self, office_ids: list[str]) -> None:
        """Declare more offices' inboxes as the generated definitions shape them (quorum inbox
        with its dead-letter queue and both bindings), as guest. No broker users: an idle
        office costs the broker its queues, and removing hundreds of users takes one
        rabbitmqctl call each; the vhost's removal takes the queues with it."""
        with pika.BlockingConnection(self.guest()) as connection:
            channel = connection.channel()
            for office_id in office_ids:
                inbox, dead = inbox_queue(office_id), dead_letter_queue(office_id)
                channel.queue_declare(inbox, durable=True, arguments=inbox_arguments(office_id))
                channel.queue_declare(dead, durable=True, arguments=dead_letter_arguments())
                channel.queue_bind(inbox, ENVELOPE_EXCHANGE, inbox_binding_key(office_id))
                channel.queue_bind(dead, DEAD_LETTER_EXCHANGE, dead_letter_routing_key(office_id))


def demo_keys(dest: Path) -> Path:
    """A private copy of the DEMO keys (0600: the key loader refuses keys others may read)."""
    return Path(_demo_keys().private_copy(dest))


class DaemonProcess:
    """``liaison daemon --config`` as a child process (default DaemonSettings)."""

    def __init__(self, config_path: Path, office: Office) -> None:
        self.config_path, self.office = config_path, office
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> None:
        log = self.config_path.parent / "daemon.log"
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [str(LIAISON), "daemon", "--config", str(self.config_path)],
                cwd=self.config_path.parent,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if (
                status
                and status.get("state") == "running"
                and status.get("pid") == self.pid
                and status.get("link", {}).get("state") == "connected"
            ):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daemon for {self.office.office_id} did not start; see {log}")

    def status(self) -> dict[str, Any] | None:
        try:
            return read_status(self.office.paths.status)
        except Exception:  # noqa: BLE001 - a file caught half written: try again later
            return None

    def rss_kib(self) -> int:
        """VmRSS of the daemon process, KiB (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def open_fds(self) -> int:
        """File descriptors the daemon process holds (Linux /proc)."""
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def stop(self, timeout: float = 60.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
