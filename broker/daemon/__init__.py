"""The office daemon (docs/daemon.md): submit -> outbox -> broker -> partner -> hand-over ->
signed receipt -> later a response.

Pure core: :mod:`.decisions` (what to do with one delivery: accept, duplicate, reject; what an
accepted message changes) and :mod:`.outgoing` (sealing with what the outbox and the log need).
Edges and composition: :mod:`.office` (an office from its configuration), :mod:`.inbound` and
:mod:`.outbound` (carrying out decisions on the store, spool and link), :mod:`.submission`
(``liaison submit`` and ``respond``), :mod:`.health` (the status file) and :mod:`.runner`
(``OfficeDaemon``: the link, the core thread, timers, clean stop)::

    office = load_office(config, passphrase=None, now=now)
    daemon = OfficeDaemon(office, amqp_settings(config))
    daemon.start(); daemon.wait_ready(30)
    ...
    daemon.stop()
"""

from broker.daemon.decisions import (
    AcceptancePlan,
    Accepted,
    Arrival,
    Context,
    Duplicate,
    Known,
    Rejected,
    TransportReason,
    Verdict,
    examine,
    plan_acceptance,
    receipt_for,
    rejection_entry,
)
from broker.daemon.health import Verdict as HealthVerdict
from broker.daemon.health import assess, read_status, write_status
from broker.daemon.office import (
    Office,
    OfficePaths,
    amqp_settings,
    limits_of,
    load_directory,
    load_office,
    needs_passphrase,
)
from broker.daemon.outgoing import Sealed, seal_outgoing, submitted_entries
from broker.daemon.runner import DaemonSettings, OfficeDaemon, utc_now
from broker.daemon.submission import respond, submit

__all__ = [
    "AcceptancePlan",
    "Accepted",
    "Arrival",
    "Context",
    "DaemonSettings",
    "Duplicate",
    "HealthVerdict",
    "Known",
    "Office",
    "OfficeDaemon",
    "OfficePaths",
    "Rejected",
    "Sealed",
    "TransportReason",
    "Verdict",
    "amqp_settings",
    "assess",
    "examine",
    "limits_of",
    "load_directory",
    "load_office",
    "needs_passphrase",
    "plan_acceptance",
    "read_status",
    "receipt_for",
    "rejection_entry",
    "respond",
    "seal_outgoing",
    "submit",
    "submitted_entries",
    "utc_now",
    "write_status",
]
