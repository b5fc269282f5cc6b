"""The edge that puts Liaison's topology on a real RabbitMQ node, through ``rabbitmqctl``.

``apply_definitions`` imports a definitions document (``broker.topology.build_definitions``)
and waits until the node really holds it: on RabbitMQ 3.10 ``import_definitions`` returns
before the import is done, and it silently keeps an existing queue's old arguments. So after
importing we export the node's definitions and compare, object by object, until everything is
there (or a deadline passes). ``remove_site`` deletes a vhost and the users of a prefix.

Every failure is a :class:`TransportError` naming the step, except what only a person can fix
(the vhost exists, a queue kept other arguments), which are local errors. Exported definitions
hold every user's password hash: they are compared here and never logged or shown.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from broker.errors import ConfigError, InputError, TransportError

# Seconds one rabbitmqctl call may take before we give up on the node.
DEFAULT_CALL_TIMEOUT = 60.0
# Seconds to wait for an asynchronous import to show up in the node's definitions.
DEFAULT_APPLY_WAIT = 30.0
POLL_INTERVAL = 0.2
MAX_STDERR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Rabbitmqctl:
    """How to run ``rabbitmqctl``: the executable, the node (None: its default), a timeout."""

    executable: str = "rabbitmqctl"
    node: str | None = None
    timeout: float = DEFAULT_CALL_TIMEOUT

    @classmethod
    def from_env(cls) -> Rabbitmqctl:
        """``LIAISON_RABBITMQCTL`` (else ``rabbitmqctl`` on PATH) for ``LIAISON_RABBITMQ_NODE``
        (else its default node): how the tests and the demo reach a broker to manage."""
        return cls(
            executable=os.environ.get("LIAISON_RABBITMQCTL", "rabbitmqctl"),
            node=os.environ.get("LIAISON_RABBITMQ_NODE") or None,
        )

    def run(self, step: str, *args: str, stdin: bytes | None = None) -> str:
        """Run one command quietly; its stdout, or TransportError naming ``step``."""
        command = [self.executable]
        if self.node:
            command += ["--node", self.node]
        command += ["--quiet", *args]
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError:
            raise TransportError(
                f"{step}: {self.executable} not found; install RabbitMQ's CLI tools or give its"
                " path (--rabbitmqctl)"
            ) from None
        except PermissionError:
            raise TransportError(f"{step}: {self.executable} is not executable") from None
        except subprocess.TimeoutExpired:
            raise TransportError(
                f"{step}: rabbitmqctl {args[0]} did not finish within {self.timeout:g} s"
            ) from None
        if done.returncode != 0:
            raise TransportError(
                f"{step}: rabbitmqctl {args[0]} failed (exit {done.returncode}):"
                f" {_last_line(done.stderr or done.stdout)}"
            )
        return done.stdout.decode("utf-8", errors="replace")

    def run_json(self, step: str, *args: str) -> Any:
        """Run a listing command with the JSON formatter and parse what it prints."""
        text = self.run(step, *args, "--formatter", "json")
        return _parse_json(step, args[0], text)


def _last_line(output: bytes) -> str:
    lines = [line.strip() for line in output.decode("utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line and line != "Error:"]
    text = lines[-1] if lines else "no message"
    # A shovel's URI holds a link password; never let one reach an error message.
    text = re.sub(r"(amqps?://[^:/@\s]*):[^@\s]*@", r"\1:[redacted]@", text)
    return text[:MAX_STDERR_CHARS]


def _parse_json(step: str, command: str, text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        raise TransportError(f"{step}: rabbitmqctl {command} did not print JSON") from None


# ---------------------------------------------------------------- what the node holds


def vhost_exists(ctl: Rabbitmqctl, vhost: str) -> bool:
    rows = ctl.run_json("list virtual hosts", "list_vhosts", "name")
    return any(isinstance(row, dict) and row.get("name") == vhost for row in rows)


def export_definitions(ctl: Rabbitmqctl) -> dict[str, Any]:
    """The node's definitions as the node exports them (holds password hashes: never show)."""
    text = ctl.run("export definitions", "export_definitions", "-", "--format", "json")
    document = _parse_json("export definitions", "export_definitions", text)
    if not isinstance(document, dict):
        raise TransportError("export definitions: rabbitmqctl printed no definitions document")
    return document


# The fields each object of a Liaison definitions document must have, with their types.
_FIELDS: Mapping[str, Mapping[str, type]] = {
    "users": {"name": str, "password_hash": str, "tags": list},
    "permissions": {"user": str, "vhost": str, "configure": str, "write": str, "read": str},
    "topic_permissions": {"user": str, "vhost": str, "exchange": str, "write": str, "read": str},
    "queues": {"name": str, "vhost": str, "arguments": dict},
    "exchanges": {"name": str, "vhost": str, "type": str},
    "bindings": {"source": str, "vhost": str, "destination": str, "routing_key": str},
}


def definitions_vhost(definitions: Mapping[str, Any]) -> str:
    """The one vhost a Liaison definitions document is for; InputError if the document is not
    one (one vhost, every object complete and in that vhost, bindings to queues)."""
    vhosts = definitions.get("vhosts")
    if (
        not isinstance(vhosts, list)
        or len(vhosts) != 1
        or not isinstance(vhosts[0], dict)
        or not isinstance(vhosts[0].get("name"), str)
    ):
        raise InputError("the definitions must declare exactly one vhost")
    vhost: str = vhosts[0]["name"]
    for key, fields in _FIELDS.items():
        entries = definitions.get(key)
        if not isinstance(entries, list):
            raise InputError(f"the definitions have no '{key}' list")
        for index, entry in enumerate(entries):
            where = f"the definitions' {key}[{index}]"
            if not isinstance(entry, dict):
                raise InputError(f"{where} is not an object")
            for name, kind in fields.items():
                if not isinstance(entry.get(name), kind):
                    raise InputError(f"{where} has no valid '{name}'")
            if entry.get("vhost", vhost) != vhost:
                raise InputError(f"{where} is for another vhost than {vhost!r}")
            if key == "bindings" and entry.get("destination_type") != "queue":
                raise InputError(f"{where} does not bind a queue")
    return vhost


def missing_from(node: Mapping[str, Any], wanted: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """What of ``wanted`` the ``node``'s exported definitions lack: (still missing, different
    for good). A queue's arguments never change once declared, so a queue that exists with
    other arguments is different for good; everything else may still be on its way."""
    vhost = definitions_vhost(wanted)
    missing: list[str] = []
    different: list[str] = []
    _users(_rows(node, "users"), wanted["users"], missing)
    if not any(row.get("name") == vhost for row in _rows(node, "vhosts")):
        missing.append(f"vhost {vhost}")
    _permissions(_rows(node, "permissions", vhost), wanted["permissions"], missing)
    _topic_permissions(
        _rows(node, "topic_permissions", vhost), wanted["topic_permissions"], missing
    )
    _queues(_rows(node, "queues", vhost), wanted["queues"], missing, different)
    exchanges = {row.get("name"): row for row in _rows(node, "exchanges", vhost)}
    for exchange in wanted["exchanges"]:
        got = exchanges.get(exchange["name"])
        if got is None:
            missing.append(f"exchange {exchange['name']}")
        elif got.get("type") != exchange["type"]:
            different.append(f"exchange {exchange['name']} is of type {got.get('type')}")
    bound = {
        (row.get("source"), row.get("destination"), row.get("destination_type"),
         row.get("routing_key"))
        for row in _rows(node, "bindings", vhost)
    }  # fmt: skip
    for binding in wanted["bindings"]:
        key = (binding["source"], binding["destination"], "queue", binding["routing_key"])
        if key not in bound:
            missing.append(f"binding {binding['source']} -> {binding['destination']}")
    return missing, different


Rows = list[dict[str, Any]]


def _rows(node: Mapping[str, Any], key: str, vhost: str | None = None) -> Rows:
    found = node.get(key)
    if not isinstance(found, list):
        return []
    rows = [row for row in found if isinstance(row, dict)]
    return rows if vhost is None else [row for row in rows if row.get("vhost") == vhost]


def _users(node_users: Rows, wanted: Rows, missing: list[str]) -> None:
    users = {row.get("name"): row for row in node_users}
    for user in wanted:
        got = users.get(user["name"])
        # A replaced password shows as a new hash: until then the import is not done.
        if got is None or got.get("password_hash") != user["password_hash"]:
            missing.append(f"user {user['name']}")
        elif sorted(got.get("tags") or []) != sorted(user["tags"]):
            missing.append(f"tags of user {user['name']}")


def _permissions(node_permissions: Rows, wanted: Rows, missing: list[str]) -> None:
    granted = {row.get("user"): row for row in node_permissions}
    for perm in wanted:
        got = granted.get(perm["user"])
        if got is None or any(got.get(k) != perm[k] for k in ("configure", "write", "read")):
            missing.append(f"permissions of {perm['user']}")


def _topic_permissions(node_topics: Rows, wanted: Rows, missing: list[str]) -> None:
    topics = {(row.get("user"), row.get("exchange")): row for row in node_topics}
    for perm in wanted:
        got = topics.get((perm["user"], perm["exchange"]))
        if got is None or any(got.get(k) != perm[k] for k in ("write", "read")):
            missing.append(f"topic permissions of {perm['user']}")


def _queues(node_queues: Rows, wanted: Rows, missing: list[str], different: list[str]) -> None:
    queues = {row.get("name"): row for row in node_queues}
    for queue in wanted:
        got = queues.get(queue["name"])
        if got is None:
            missing.append(f"queue {queue['name']}")
            continue
        had = got.get("arguments")
        had = had if isinstance(had, dict) else {}
        changes = [
            f"{key} {had.get(key)!r} (wanted {queue['arguments'].get(key)!r})"
            for key in sorted(set(had) | set(queue["arguments"]))
            if had.get(key) != queue["arguments"].get(key)
        ]
        if got.get("durable") is not True:
            changes.append("not durable")
        if changes:
            different.append(f"queue {queue['name']} kept " + ", ".join(changes))


# ---------------------------------------------------------------- apply and remove


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``apply_definitions`` put on the node."""

    vhost: str
    users: tuple[str, ...]
    queues: tuple[str, ...]
    replaced: bool
    seconds: float


def apply_definitions(
    definitions: Mapping[str, Any],
    *,
    ctl: Rabbitmqctl,
    replace: bool = False,
    wait: float = DEFAULT_APPLY_WAIT,
) -> Applied:
    """Import ``definitions`` into the node and wait until it holds all of them.

    Refuses (InputError) when the vhost exists, unless ``replace``: then the import goes over
    it, overwriting users' passwords and permissions and adding what is missing; queues and
    their messages stay (and so do objects the definitions no longer name).
    """
    vhost = definitions_vhost(definitions)
    started = time.monotonic()
    exists = vhost_exists(ctl, vhost)
    if exists and not replace:
        raise InputError(
            f"vhost {vhost!r} already exists on the broker; pass --replace to import over it"
        )
    body = json.dumps(definitions, ensure_ascii=False).encode("utf-8")
    ctl.run("import definitions", "import_definitions", "--format", "json", stdin=body)
    deadline = started + wait
    while True:
        missing, different = missing_from(export_definitions(ctl), definitions)
        if different:
            raise ConfigError(
                f"vhost {vhost!r}: the broker holds objects that differ from the definitions"
                " (RabbitMQ never changes a declared queue; delete it, losing its messages,"
                " then apply again): " + "; ".join(different)
            )
        if not missing:
            break
        if time.monotonic() >= deadline:
            shown = "; ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise TransportError(
                f"wait for the import: after {wait:g} s the broker still lacks {shown}"
                " (see the broker's log for why the import failed)"
            )
        time.sleep(POLL_INTERVAL)
    return Applied(
        vhost=vhost,
        users=tuple(u["name"] for u in definitions["users"]),
        queues=tuple(q["name"] for q in definitions["queues"]),
        replaced=exists,
        seconds=time.monotonic() - started,
    )


@dataclass(frozen=True, slots=True)
class Removed:
    """What ``remove_site`` deleted."""

    vhost: str
    vhost_deleted: bool
    users: tuple[str, ...]


def remove_site(ctl: Rabbitmqctl, *, vhost: str, users_prefix: str) -> Removed:
    """Delete ``vhost`` (with its queues and messages) and every user whose name starts with
    ``users_prefix``; what does not exist is skipped."""
    if not vhost or vhost == "/":
        raise InputError("refusing to remove the default vhost '/' (or an empty name)")
    if not users_prefix:
        raise InputError("a non-empty users prefix is required (it selects the users to delete)")
    deleted_vhost = vhost_exists(ctl, vhost)
    if deleted_vhost:
        ctl.run(f"delete vhost {vhost}", "delete_vhost", vhost)
    users = sorted(
        row["user"]
        for row in ctl.run_json("list users", "list_users")
        if isinstance(row, dict)
        and str(row.get("user", "")).startswith(users_prefix)
        # An administrator is never a Liaison office's user: a careless prefix must not hit one.
        and "administrator" not in (row.get("tags") or [])
    )
    for user in users:
        ctl.run(f"delete user {user}", "delete_user", user)
    return Removed(vhost=vhost, vhost_deleted=deleted_vhost, users=tuple(users))


# ---------------------------------------------------------------- runtime parameters (shovels)


def apply_parameters(
    parameters: list[dict[str, Any]],
    *,
    ctl: Rabbitmqctl,
    vhost: str,
    wait: float = DEFAULT_APPLY_WAIT,
) -> tuple[str, ...]:
    """Put runtime parameters (a site's shovels) into ``vhost`` and wait until the node holds
    each with its value; their names. Fed to ``import_definitions`` on stdin, not to
    ``set_parameter``, so that the passwords in shovel URIs never appear on a command line."""
    for index, parameter in enumerate(parameters):
        if (
            not isinstance(parameter, dict)
            or parameter.get("vhost") != vhost
            or not isinstance(parameter.get("component"), str)
            or not isinstance(parameter.get("name"), str)
            or not isinstance(parameter.get("value"), dict)
        ):
            raise InputError(
                f"parameters[{index}] is not a runtime parameter of vhost {vhost!r}"
                " (vhost, component, name, value)"
            )
    if not vhost_exists(ctl, vhost):
        raise InputError(f"vhost {vhost!r} does not exist: apply its definitions first")
    body = json.dumps({"parameters": parameters}, ensure_ascii=False).encode("utf-8")
    ctl.run("import runtime parameters", "import_definitions", "--format", "json", stdin=body)
    deadline = time.monotonic() + wait
    while True:
        held = {
            (row.get("vhost"), row.get("component"), row.get("name")): row.get("value")
            for row in _rows(export_definitions(ctl), "parameters", vhost)
        }
        # Values hold passwords: compared here, never shown.
        missing = [
            f"{p['component']} {p['name']}"
            for p in parameters
            if held.get((vhost, p["component"], p["name"])) != p["value"]
        ]
        if not missing:
            return tuple(p["name"] for p in parameters)
        if time.monotonic() >= deadline:
            raise TransportError(
                f"wait for the parameters: after {wait:g} s the broker still lacks"
                f" {', '.join(missing)} (is the shovel plugin enabled? see the broker's log)"
            )
        time.sleep(POLL_INTERVAL)
