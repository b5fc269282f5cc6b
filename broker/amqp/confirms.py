"""Book-keeping of publisher confirms: a sans-IO state machine, driven by the link's I/O thread.

Every publish stays *pending* until the broker settles it, whatever happens to connections:

- ``submit`` queues it; ``next_to_send`` hands out the next one while fewer than the window are in
  flight; ``sent`` numbers it with the channel's confirm sequence (1, 2, ... per channel).
- ``returned`` marks the publish a basic.return names (matched by message id, exchange and routing
  key, oldest first: the broker returns in publish order, always before the ack of the same
  message).
- ``confirmed`` settles one sequence number or, with ``multiple``, every one up to it.
- ``channel_lost`` puts every unsettled publish back in line, in submission order, so that the
  next channel sends them again (at-least-once; receivers dedupe by message id).

A publish the broker refuses by closing the channel (an unknown exchange, a forbidden routing key,
a forged user id) would otherwise be resent and close every channel forever. After a channel is
closed by the broker while publishes were in flight, those become *suspects* and the next channel
sends one publish at a time until none is left. A publish alone in flight when the broker closes
a channel is struck, and :data:`POISON_STRIKES` strikes settle it as NACKED with the broker's
reply text. (Two strikes, so one unrelated channel error, e.g. a consumer timeout, cannot
condemn an innocent message.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from broker.amqp.values import Published, PublishOutcome

__all__ = ["POISON_STRIKES", "ConfirmTracker", "Outgoing"]

POISON_STRIKES = 2


@dataclass(slots=True)
class Outgoing:
    """One publish as the owner handed it over, plus what the tracker learnt about it."""

    publish_id: str
    exchange: str
    routing_key: str
    body: bytes = field(repr=False)
    message_id: str
    user_id: str | None
    headers: Mapping[str, object] | None = field(default=None, repr=False)
    sends: int = 0  # how many channels it was sent on
    strikes: int = 0  # channel closes while it was alone in flight
    return_text: str | None = None  # basic.return on the current channel, if any


class ConfirmTracker:
    """Pending publishes, the send queue and the in-flight window of the current channel."""

    def __init__(self, max_in_flight: int) -> None:
        self._window = max(1, max_in_flight)
        self._pending: dict[str, Outgoing] = {}  # submission order
        self._unsent: deque[str] = deque()
        self._in_flight: dict[int, str] = {}  # sequence number -> publish id, ascending
        self._sequence = 0
        self._suspects: set[str] = set()
        self.republished_count = 0

    @property
    def unconfirmed_count(self) -> int:
        return len(self._pending)

    @property
    def in_flight_count(self) -> int:
        return len(self._in_flight)

    @property
    def probing(self) -> bool:
        """True while suspects of a broker channel close are sent one at a time."""
        return bool(self._suspects)

    def submit(self, outgoing: Outgoing) -> bool:
        """Queue a publish; False (and ignored) if one with the same id is already pending."""
        if outgoing.publish_id in self._pending:
            return False
        self._pending[outgoing.publish_id] = outgoing
        self._unsent.append(outgoing.publish_id)
        return True

    def next_to_send(self) -> Outgoing | None:
        """The next publish to send on the current channel, or None (nothing, or window full)."""
        window = 1 if self._suspects else self._window
        if not self._unsent or len(self._in_flight) >= window:
            return None
        return self._pending[self._unsent[0]]

    def sent(self, outgoing: Outgoing) -> int:
        """Record that ``outgoing`` (from next_to_send) went out; returns its sequence number."""
        publish_id = self._unsent.popleft()
        if publish_id != outgoing.publish_id:  # pragma: no cover - a bug in the caller
            self._unsent.appendleft(publish_id)
            raise RuntimeError("sent() must follow next_to_send() for the same publish")
        self._sequence += 1
        self._in_flight[self._sequence] = publish_id
        if outgoing.sends:
            self.republished_count += 1
        outgoing.sends += 1
        return self._sequence

    def returned(
        self, message_id: str | None, exchange: str, routing_key: str, reply_text: str
    ) -> str | None:
        """Mark the oldest in-flight publish that matches a basic.return; its publish id."""
        for publish_id in self._in_flight.values():
            outgoing = self._pending[publish_id]
            if (
                outgoing.return_text is None
                and outgoing.message_id == message_id
                and outgoing.exchange == exchange
                and outgoing.routing_key == routing_key
            ):
                outgoing.return_text = reply_text
                return publish_id
        return None

    def confirmed(self, sequence: int, *, multiple: bool, ack: bool) -> list[Published]:
        """Settle by a basic.ack (``ack``) or basic.nack; the outcomes, in publish order."""
        if multiple:
            numbers = []
            for number in self._in_flight:
                if number > sequence:
                    break
                numbers.append(number)
        else:
            numbers = [sequence] if sequence in self._in_flight else []
        outcomes = []
        for number in numbers:
            outgoing = self._pending.pop(self._in_flight.pop(number))
            self._suspects.discard(outgoing.publish_id)
            if not ack:
                outcomes.append(Published(outgoing.publish_id, PublishOutcome.NACKED, "nacked"))
            elif outgoing.return_text is not None:
                outcome = PublishOutcome.RETURNED
                outcomes.append(Published(outgoing.publish_id, outcome, outgoing.return_text))
            else:
                outcomes.append(Published(outgoing.publish_id, PublishOutcome.CONFIRMED))
        return outcomes

    def channel_lost(self, *, closed_by_broker: bool, reason: str) -> list[Published]:
        """The channel is gone: requeue everything unsettled; returns publishes given up on."""
        given_up: list[Published] = []
        in_flight = list(self._in_flight.values())
        if closed_by_broker and len(in_flight) == 1:
            culprit = self._pending[in_flight[0]]
            culprit.strikes += 1
            self._suspects.add(culprit.publish_id)
            if culprit.strikes >= POISON_STRIKES:
                del self._pending[culprit.publish_id]
                self._suspects.discard(culprit.publish_id)
                outcome = PublishOutcome.NACKED
                given_up.append(Published(culprit.publish_id, outcome, reason))
        elif closed_by_broker:
            self._suspects.update(in_flight)
        self._in_flight.clear()
        self._sequence = 0
        for outgoing in self._pending.values():
            outgoing.return_text = None
        self._unsent = deque(self._pending)
        return given_up
