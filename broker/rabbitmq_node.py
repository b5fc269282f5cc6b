"""A private RabbitMQ node in a folder of our own, on loopback ports: for tests and the demo.

::

    with RabbitNode(folder, amqp_port=free_port()) as node:   # starts it, waits until ready
        node.url("guest", "guest")                             # amqp://guest:guest@127.0.0.1:PORT/%2F
        node.ctl("list_queues")                                # rabbitmqctl against this node
        apply_definitions(document, ctl=node.rabbitmqctl())    # broker.rabbitmq_admin works too
    # stopped here, even if the block raised

The node runs ``rabbitmq-server`` from RabbitMQ's own ``bin`` folder (``/usr/lib/rabbitmq/bin``
on Debian and Ubuntu; ``LIAISON_RABBITMQ_BIN`` or ``rabbitmq_bin=`` for another) with every
path under ``folder``: configuration, data (so a restart keeps the messages), logs, and a
``home`` whose Erlang cookie only this node and its ``rabbitmqctl`` know. The machine's own
broker (port 5672, node ``rabbit@<host>``) is never touched. Listeners and the Erlang
distribution port are bound to 127.0.0.1; AMQPS, when asked for, requires a client certificate
from the given CA (``verify_peer`` + ``fail_if_no_peer_cert``). The shovel plugin is enabled,
management only if a port is given.

**epmd.** Erlang nodes register with the port mapper on 127.0.0.1:4369. If none is running,
this module starts one (bound to 127.0.0.1, pid recorded) and stops it again when the last node
it knows of has stopped; an epmd that was already running (the machine's broker's) is left
alone. An epmd is shared by every node of the machine, so one started here is stopped only if
``epmd -names`` lists no node.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket  # noqa: TID251 - this module is an edge: it probes loopback ports
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from broker.errors import ConfigError, NotAvailable, TransportError
from broker.rabbitmq_admin import Rabbitmqctl

DEFAULT_RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
EPMD_PORT = 4369
DEFAULT_START_TIMEOUT = 120.0
DEFAULT_STOP_TIMEOUT = 60.0
CTL_TIMEOUT = 60.0
HOW_TO_INSTALL = (
    "install RabbitMQ (Debian/Ubuntu: 'apt-get install rabbitmq-server'; see"
    " https://www.rabbitmq.com/docs/download), or set LIAISON_RABBITMQ_BIN to the folder that"
    " holds rabbitmq-server and rabbitmqctl"
)


@dataclass(frozen=True, slots=True)
class NodeTls:
    """The AMQPS listener's files: the CA its clients' certificates must chain to, and the
    node's own certificate and key (PEM)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rabbitmq_bin() -> Path:
    """The folder of ``rabbitmq-server`` and ``rabbitmqctl``; NotAvailable saying how to get
    them if they are not there."""
    folder = Path(os.environ.get("LIAISON_RABBITMQ_BIN") or DEFAULT_RABBITMQ_BIN)
    missing = [n for n in ("rabbitmq-server", "rabbitmqctl") if not (folder / n).is_file()]
    if missing:
        raise NotAvailable(f"{' and '.join(missing)} not found in {folder}: {HOW_TO_INSTALL}")
    return folder


def listening(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host``:``port`` (within a second)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


class RabbitNode:
    """One private RabbitMQ node. ``start()`` (or ``with``) boots it and returns when it
    accepts AMQP; ``stop()`` stops it and keeps its data; ``start()`` again restarts it."""

    def __init__(
        self,
        folder: Path,
        *,
        amqp_port: int,
        amqps_port: int | None = None,
        tls: NodeTls | None = None,
        dist_port: int | None = None,
        management_port: int | None = None,
        name: str | None = None,
        bin_folder: Path | None = None,
    ) -> None:
        if (amqps_port is None) != (tls is None):
            raise ConfigError("an AMQPS listener needs its TLS files, and TLS files a port")
        self.folder = folder.resolve()
        self.amqp_port = amqp_port
        self.amqps_port = amqps_port
        self.tls = tls
        self.dist_port = dist_port or free_port()
        self.management_port = management_port
        # Unique per instance: two nodes of one name could not run at once.
        self.name = name or f"liaison_{secrets.token_hex(4)}@localhost"
        self._bin = bin_folder
        self._server: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None  # only one this node started
        self._epmd_path = ""

    # ------------------------------------------------------------ what clients need

    def url(self, user: str, password: str, vhost: str = "/", *, tls: bool = False) -> str:
        """An ``amqp://`` (or ``amqps://``) URL of this node for ``user``."""
        port = self.amqps_port if tls else self.amqp_port
        if port is None:
            raise ConfigError(f"node {self.name} has no AMQPS listener")
        scheme = "amqps" if tls else "amqp"
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"{scheme}://{credentials}@127.0.0.1:{port}/{quote(vhost, safe='')}"

    @property
    def ctl_script(self) -> Path:
        """A ``rabbitmqctl`` for this node (sets its HOME, hence the cookie): give it to
        ``liaison broker apply --rabbitmqctl PATH --node NAME``."""
        return self.folder / "rabbitmqctl"

    def rabbitmqctl(self, *, timeout: float = CTL_TIMEOUT) -> Rabbitmqctl:
        """This node as :class:`broker.rabbitmq_admin.Rabbitmqctl` (apply, export, remove)."""
        return Rabbitmqctl(executable=str(self.ctl_script), node=self.name, timeout=timeout)

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.poll() is None

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    # ------------------------------------------------------------ life cycle

    def start(self, *, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Write the configuration, boot the node and wait until it accepts AMQP
        (TransportError with the end of its log if it does not within ``timeout``)."""
        self._launch()
        try:
            self.await_startup(timeout=timeout)
        except BaseException:
            self._kill()
            raise

    def await_startup(self, *, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Return once the node has booted and its AMQP port accepts connections."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise TransportError(f"RabbitMQ node {self.name} exited: {self._log_tail()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(
                    f"RabbitMQ node {self.name} did not start within {timeout:g} s:"
                    f" {self._log_tail()}"
                )
            try:
                self.ctl("await_startup", "--timeout", str(max(1, min(10, int(left)))))
            except TransportError:
                time.sleep(0.5)  # not registered with epmd yet, or still booting
                continue
            if listening("127.0.0.1", self.amqp_port):
                return
            time.sleep(0.2)

    def ctl(self, *args: str, stdin: bytes | None = None, timeout: float = CTL_TIMEOUT) -> str:
        """Run ``rabbitmqctl -n <this node> -q ARGS``; its stdout, or TransportError."""
        command = [str(self.ctl_script), "-n", self.name, "-q", *args]
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise NotAvailable(f"{self.ctl_script} is missing: start the node first") from None
        except subprocess.TimeoutExpired:
            raise TransportError(f"rabbitmqctl {args[0]} did not finish in {timeout:g} s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-300:]
            raise TransportError(f"rabbitmqctl {args[0]} failed (exit {done.returncode}): {tail}")
        return done.stdout.decode("utf-8", "replace")

    def stop(self, *, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop the node (its data stays in the folder); kill it if it will not stop."""
        if self._server is not None:
            try:
                if self.running:
                    self.ctl("stop", timeout=timeout)
                self._server.wait(timeout=timeout)
            except (TransportError, subprocess.TimeoutExpired):
                self._kill()
            self._server = None
        self._stop_epmd()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ the parts

    def _launch(self) -> None:
        """Boot ``rabbitmq-server`` in the background (returns at once)."""
        if self.running:
            return
        self._bin = self._bin or rabbitmq_bin()
        self._write_files(self._bin)
        self._ensure_epmd()
        with self.log_file.open("ab") as log:
            self._server = subprocess.Popen(
                [str(self._bin / "rabbitmq-server")],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends exactly it
            )

    def _env(self) -> dict[str, str]:
        base = self.folder
        return {
            **os.environ,
            "HOME": str(base / "home"),  # the Erlang cookie of the node and of rabbitmqctl
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_BASE": str(base),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            # Without this the distribution port listens on every interface.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _config(self) -> str:
        # "listeners.tcp.default = N" would bind every interface: name the address.
        lines = [f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}"]
        if self.amqps_port is not None and self.tls is not None:
            lines += [
                f"listeners.ssl.1 = 127.0.0.1:{self.amqps_port}",
                f"ssl_options.cacertfile = {self.tls.ca_file.resolve()}",
                f"ssl_options.certfile = {self.tls.cert_file.resolve()}",
                f"ssl_options.keyfile = {self.tls.key_file.resolve()}",
                "ssl_options.verify = verify_peer",
                "ssl_options.fail_if_no_peer_cert = true",
            ]
        if self.management_port is not None:
            lines += [
                "management.tcp.ip = 127.0.0.1",
                f"management.tcp.port = {self.management_port}",
            ]
        return "\n".join(lines) + "\n"

    def _write_files(self, bin_folder: Path) -> None:
        plugins = ["rabbitmq_shovel"] + (["rabbitmq_management"] if self.management_port else [])
        home = self.folder / "home"
        try:
            home.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.folder / "rabbitmq.conf").write_text(self._config(), encoding="utf-8")
            (self.folder / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
            script = (
                "#!/bin/sh\n# rabbitmqctl for the private node in this folder (its cookie).\n"
                f"export HOME='{home}'\n"
                f"export RABBITMQ_ENABLED_PLUGINS_FILE='{self.folder / 'enabled_plugins'}'\n"
                f"exec '{bin_folder / 'rabbitmqctl'}' \"$@\"\n"
            )
            self.ctl_script.write_text(script, encoding="utf-8")
            self.ctl_script.chmod(0o700)
        except OSError as exc:
            raise ConfigError(f"cannot prepare {self.folder}: {exc.strerror}") from None

    def _ensure_epmd(self) -> None:
        if listening("127.0.0.1", EPMD_PORT):
            return
        epmd = shutil.which("epmd") or next(
            (str(p) for p in Path("/usr/lib/erlang").glob("erts-*/bin/epmd")), None
        )
        if epmd is None:
            return  # the node starts one itself (then it outlives the node)
        self._epmd_path = epmd
        self._epmd = subprocess.Popen(
            [epmd, "-address", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not listening("127.0.0.1", EPMD_PORT) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _stop_epmd(self) -> None:
        epmd = self._epmd
        if epmd is None or epmd.poll() is not None:
            self._epmd = None
            return
        # Another node (another RabbitNode, started while ours ran) may still need it.
        names = subprocess.run(
            [self._epmd_path, "-names"], capture_output=True, timeout=10, check=False
        ).stdout
        if b"at port" in names:
            return
        epmd.terminate()
        epmd.wait(timeout=10)
        self._epmd = None

    def _kill(self) -> None:
        server = self._server
        if server is None:
            return
        if server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        self._server = None

    def _log_tail(self, chars: int = 1500) -> str:
        try:
            text = self.log_file.read_text("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return text[-chars:].strip() or "(empty log)"


def start_nodes(nodes: Sequence[RabbitNode], *, timeout: float = DEFAULT_START_TIMEOUT) -> None:
    """Start several nodes at once (each boot takes seconds); if one fails, stop them all."""
    try:
        for node in nodes:
            node._launch()
        for node in nodes:
            node.await_startup(timeout=timeout)
    except BaseException:
        for node in nodes:
            node.stop()
        raise


__all__ = ["NodeTls", "RabbitNode", "free_port", "rabbitmq_bin", "start_nodes"]
