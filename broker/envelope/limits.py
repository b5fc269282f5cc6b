"""How much an envelope may weigh and how far its clocks may drift: limits as configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from broker.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds every sealer and opener applies. Oversize input is refused before it is parsed."""

    # 16 MiB: a case enquiry with scanned documents fits; a broker message stays manageable, and
    # a hostile peer cannot make us parse or decrypt more than this.
    max_envelope_bytes: int = 16 * MIB
    # 64 addressees: more than the offices of any regional agreement; bounds the header and the
    # work of finding our entry (the pq suite's encapsulated keys are 1120 bytes each).
    max_recipients: int = 64
    # 5 minutes: how far a sender's clock may run ahead of ours (created_at) or behind (expiry).
    max_clock_skew: timedelta = timedelta(minutes=5)
    # 30 days: the longest an envelope may stay valid; also bounds how far a stolen signing key
    # can back-date messages to before its revocation.
    max_lifetime: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.max_envelope_bytes <= 0 or self.max_recipients <= 0:
            raise ConfigError("envelope limits must be positive")
        if self.max_clock_skew < timedelta(0) or self.max_lifetime <= timedelta(0):
            raise ConfigError("envelope clock skew must be >= 0 and the lifetime > 0")
