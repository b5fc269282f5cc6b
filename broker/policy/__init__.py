"""The agreements policy: may an enquiry go out, and between which offices (docs/directory.md).

Pure functions over an accepted ``broker.directory.Directory``: ``decide`` returns a
``Decision`` naming the rule that refused (stable codes in ``PolicyRule``), ``require_allowed``
raises ``broker.errors.PolicyRefused``; ``allowed_recipients`` and ``partner_map`` list the
partners an office's agreements in force allow.
"""

from broker.policy.routes import allowed_recipients, partner_map
from broker.policy.rules import (
    IMPLIED_CATEGORIES,
    Decision,
    EnquiryRequest,
    PolicyRule,
    decide,
    implied_categories,
    require_allowed,
)

__all__ = [
    "IMPLIED_CATEGORIES",
    "Decision",
    "EnquiryRequest",
    "PolicyRule",
    "allowed_recipients",
    "decide",
    "implied_categories",
    "partner_map",
    "require_allowed",
]
