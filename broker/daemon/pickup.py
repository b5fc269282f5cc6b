"""The way back from the office's own system: files in the pickup folder become messages.

The office's system (or the local HTTP endpoint on its behalf) drops a file in its own format
into ``[handover] pickup_dir``. On the daemon's core thread, each file whose size has settled is
read, decoded with the office's codec (hostile-input checks included), and then:

* a CaseResponse answers the received enquiry with that enquiry id: it is sealed to the office
  that asked and queued, and the enquiry is marked answered (``queue_response``);
* a CaseEnquiry is sealed to its recipient offices and queued (``queue_enquiry``);

then the file moves to ``done/`` with ``<name>.result.json`` (message id, kind, recipients,
warnings) or, when it is invalid or the agreements refuse it, to ``failed/`` with
``<name>.reason.txt``. A file whose bytes were queued already (dropped twice, or the daemon
stopped between queueing and moving it; the ``pickups`` table, written in the queueing
transaction, remembers), or an enquiry whose enquiry id was sent already, is moved to
``done/`` without a second message. A disk or configuration problem leaves the file where it
is for the next look, and the other files are taken meanwhile.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.base import Codec
from adapters.transports.spool import Picked, PickupFolder
from broker.daemon.handover import describe_failure
from broker.daemon.office import Office
from broker.daemon.outgoing import Sealed
from broker.daemon.submission import queue_enquiry, queue_response
from broker.envelope import MessageKind
from broker.errors import InputError, LiaisonError, PolicyRefused
from broker.log import get_logger
from broker.model import CaseEnquiry, CaseResponse
from broker.office_store import OfficeStore
from broker.office_store.pickups import PickupStore


def _log() -> Any:
    return get_logger("pickup")


@dataclass
class PickupCounts:
    picked_up: int = 0
    pickup_refused: int = 0


class PickupWatcher:
    """Takes the files of one pickup folder (see the module docstring); core thread only."""

    def __init__(
        self,
        office: Callable[[], Office],
        store: OfficeStore,
        codec: Codec,
        folder: PickupFolder,
        *,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._office = office
        self._store = store
        self._codec = codec
        self.folder = folder
        self._rng = rng
        self.counts = PickupCounts()
        self._pickups = PickupStore(store.db)
        self._told: set[str] = set()  # names too long to take, already reported

    def poll(self, *, now: datetime) -> int:
        """Take every settled file; how many were taken (queued or refused). A file that
        cannot be taken now (a disk or configuration problem) stays for the next look and
        does not hold up the others."""
        taken = 0
        for picked in self.folder.ready():
            try:
                self._take(picked, now)
            except LiaisonError as exc:
                _log().error("pickup_failed", file=picked.name, exc_info=exc)
                continue
            taken += 1
        for name in self.folder.too_long - self._told:
            _log().error("pickup_name_too_long", name_bytes=len(name.encode()))  # left in place
            self._told.add(name)
        return taken

    def _take(self, picked: Picked, now: datetime) -> None:
        try:
            data = self.folder.read(picked)
            decoded = self._codec.decode(data, suffix=picked.suffix)
            message = decoded.message
            result = self._queue(message, hashlib.sha256(data).digest(), now)
        except (InputError, PolicyRefused) as exc:  # the file's fault: it goes to failed/
            self.folder.refused(picked, describe_failure(exc))
            self.counts.pickup_refused += 1
            _log().warning("pickup_refused", file=picked.name, exc_info=exc)
            return
        result["warnings"] = list(decoded.warnings)
        result["losses"] = [{"field": loss.field, "reason": loss.reason} for loss in decoded.losses]
        result["file"] = picked.name
        self.folder.succeeded(picked, result)
        self.counts.picked_up += 1
        _log().info(
            "picked_up",
            file=picked.name,
            message_id=result["message_id"],
            kind=result["kind"],
            recipients=result["recipients"],
        )

    def _queue(self, message: object, file_digest: bytes, now: datetime) -> dict[str, Any]:
        if isinstance(message, CaseResponse):
            kind, enquiry_id = MessageKind.RESPONSE, message.enquiry_id
        elif isinstance(message, CaseEnquiry):
            kind, enquiry_id = MessageKind.ENQUIRY, message.enquiry_id
        else:
            raise InputError("only enquiries and responses can be sent from the pickup folder")
        # The same file again (dropped twice, or taken before the daemon stopped), or an
        # enquiry whose id was sent already: never sent twice. A second response to the same
        # enquiry (a partial answer, then the full one) is a different file: it is sent.
        earlier = self._pickups.taken(file_digest)
        if earlier is None and kind is MessageKind.ENQUIRY:
            earlier = self._store.queued_with(enquiry_id, kind)
        if earlier is not None:
            rows = self._store.deliveries_of(earlier)
            return _result(earlier, kind, tuple(r.recipient for r in rows), enquiry_id, again=True)
        office = self._office()
        sealed: Sealed
        with self._store.batch():  # the message and the note of where it came from, together
            if isinstance(message, CaseResponse):
                sealed = queue_response(
                    office, self._store, message.enquiry_id, message, now=now, rng=self._rng
                )
            else:
                sealed = queue_enquiry(office, self._store, message, now=now, rng=self._rng)
            self._pickups.note(file_digest, sealed.outgoing.message_id, now)
        out = sealed.outgoing
        return _result(out.message_id, kind, out.recipients, enquiry_id, again=False)


def _result(
    message_id: bytes,
    kind: MessageKind,
    recipients: tuple[str, ...],
    enquiry_id: str,
    *,
    again: bool,
) -> dict[str, Any]:
    return {
        "message_id": message_id.hex(),
        "kind": kind.name.lower(),
        "recipients": list(recipients),
        "enquiry_id": enquiry_id,
        "state": "queued before" if again else "queued",
    }
