"""Who may write to whom: the partners each office's agreements allow. Pure.

The exchange uses this for broker permissions (an office may publish only to partners an
agreement in force allows); each enquiry is still checked by ``rules.decide``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from broker.directory.directory import Directory


def allowed_recipients(directory: Directory, sender: str, at: datetime) -> frozenset[str]:
    """Offices that share with ``sender`` at least one agreement in force at ``at``."""
    partners: set[str] = set()
    for agreement in directory.agreements:
        if sender in agreement.parties and agreement.in_force(at):
            partners.update(agreement.parties)
    partners.discard(sender)
    return frozenset(partners)


def partner_map(directory: Directory, at: datetime) -> Mapping[str, frozenset[str]]:
    """``allowed_recipients`` for every office of the directory (an office with no agreement in
    force maps to an empty set)."""
    return {office.id: allowed_recipients(directory, office.id, at) for office in directory.offices}
