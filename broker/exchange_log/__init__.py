"""The exchange log on disk, the envelope store, and audits (docs/exchange-log.md).

Pure parts: entries (:mod:`.entry`), tiles and tree checks (:mod:`.tiles`, :mod:`.tree_check`),
checkpoint checks, reports, replay selection and reconciliation. Edges: :mod:`.sqlite_store`
(the only module importing sqlite3) and :mod:`.envelope_store` (files). :mod:`.verify` runs
the checks over every core.

The daemon's calls::

    log = ExchangeLog.open(data_dir / "exchange-log.db", office_id=..., network=...)
    store = EnvelopeStore(data_dir / "envelopes")
    digest = store.put(envelope)                       # before the entry that names it
    log.append(entry_for_envelope(EventType.PUBLISHED, header, digest, time=now))
    log.append_many([...])                             # one durable transaction
    log.checkpoint(log_signer(keys, network=...), now)
"""

from broker.exchange_log.entry import EventType, LogEntry, decode_entry, entry_for_envelope
from broker.exchange_log.envelope_store import EnvelopeStore, store_beside
from broker.exchange_log.log_keys import (
    DEFAULT_NETWORK,
    DirectoryLogKeys,
    FixedLogKey,
    LogKeys,
    log_signer,
    log_verifier,
)
from broker.exchange_log.records import Snapshot, StoredCheckpoint
from broker.exchange_log.report import Problem, ProblemCode, VerifyReport
from broker.exchange_log.sqlite_store import ExchangeLog, TileReader

__all__ = [
    "DEFAULT_NETWORK",
    "DirectoryLogKeys",
    "EnvelopeStore",
    "EventType",
    "ExchangeLog",
    "FixedLogKey",
    "LogEntry",
    "LogKeys",
    "Problem",
    "ProblemCode",
    "Snapshot",
    "StoredCheckpoint",
    "TileReader",
    "VerifyReport",
    "decode_entry",
    "entry_for_envelope",
    "log_signer",
    "log_verifier",
    "store_beside",
]
