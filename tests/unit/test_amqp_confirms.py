"""The publisher-confirm book-keeping, driven the way the link's I/O thread drives it."""

from __future__ import annotations

from broker.amqp.confirms import POISON_STRIKES, ConfirmTracker, Outgoing
from broker.amqp.values import Published, PublishOutcome

CONFIRMED, RETURNED, NACKED = (
    PublishOutcome.CONFIRMED,
    PublishOutcome.RETURNED,
    PublishOutcome.NACKED,
)


def outgoing(n: int, message_id: str | None = None) -> Outgoing:
    return Outgoing(f"p{n}", "ex", "rk", b"body %d" % n, message_id or f"m{n}", None)


def send_all(tracker: ConfirmTracker) -> list[str]:
    sent = []
    while (next_one := tracker.next_to_send()) is not None:
        tracker.sent(next_one)
        sent.append(next_one.publish_id)
    return sent


def confirm_in_flight(tracker: ConfirmTracker) -> list[Published]:
    return tracker.confirmed(2**62, multiple=True, ack=True)


def tracker_with(count: int, window: int = 100) -> ConfirmTracker:
    tracker = ConfirmTracker(window)
    for n in range(1, count + 1):
        assert tracker.submit(outgoing(n))
    return tracker


def test_sequence_numbers_follow_the_channel_and_the_window_limits_sending() -> None:
    tracker = tracker_with(5, window=3)
    assert send_all(tracker) == ["p1", "p2", "p3"]
    assert (tracker.in_flight_count, tracker.unconfirmed_count) == (3, 5)
    assert tracker.confirmed(2, multiple=False, ack=True) == [Published("p2", CONFIRMED)]
    assert send_all(tracker) == ["p4"]
    assert tracker.next_to_send() is None


def test_a_multiple_ack_settles_everything_up_to_its_tag_in_order() -> None:
    tracker = tracker_with(6)
    send_all(tracker)
    assert tracker.confirmed(5, multiple=False, ack=True) == [Published("p5", CONFIRMED)]
    outcomes = tracker.confirmed(4, multiple=True, ack=True)
    assert [p.publish_id for p in outcomes] == ["p1", "p2", "p3", "p4"]
    assert tracker.confirmed(4, multiple=True, ack=True) == []  # nothing twice
    assert tracker.confirmed(3, multiple=False, ack=True) == []
    assert tracker.unconfirmed_count == 1


def test_nacks_are_reported_as_nacked() -> None:
    tracker = tracker_with(3)
    send_all(tracker)
    outcomes = tracker.confirmed(2, multiple=True, ack=False)
    assert [(p.publish_id, p.outcome) for p in outcomes] == [("p1", NACKED), ("p2", NACKED)]


def test_a_return_marks_the_oldest_in_flight_publish_with_that_message_id() -> None:
    tracker = ConfirmTracker(10)
    for n, message_id in ((1, "same"), (2, "same"), (3, "other")):
        tracker.submit(outgoing(n, message_id))
    send_all(tracker)
    assert tracker.returned("same", "ex", "rk", "NO_ROUTE") == "p1"
    assert tracker.returned("same", "ex", "other-rk", "NO_ROUTE") is None
    assert tracker.returned("same", "ex", "rk", "NO_ROUTE") == "p2"
    assert tracker.returned("unknown", "ex", "rk", "NO_ROUTE") is None
    assert tracker.confirmed(3, multiple=True, ack=True) == [
        Published("p1", RETURNED, "NO_ROUTE"),
        Published("p2", RETURNED, "NO_ROUTE"),
        Published("p3", CONFIRMED),
    ]


def test_a_duplicate_publish_id_is_ignored_while_pending() -> None:
    tracker = tracker_with(1)
    assert not tracker.submit(outgoing(1))
    send_all(tracker)
    tracker.confirmed(1, multiple=False, ack=True)
    assert tracker.submit(outgoing(1))  # settled ids may be used again


def test_a_lost_connection_resends_every_unconfirmed_publish_in_order() -> None:
    tracker = tracker_with(6, window=4)
    send_all(tracker)  # p1..p4 in flight, p5 and p6 waiting
    tracker.confirmed(2, multiple=False, ack=True)
    tracker.returned("m3", "ex", "rk", "NO_ROUTE")
    assert tracker.channel_lost(closed_by_broker=False, reason="connection lost") == []
    assert tracker.in_flight_count == 0
    assert send_all(tracker) == ["p1", "p3", "p4", "p5"]
    assert tracker.republished_count == 3
    # Sequence numbers restart on the new channel; the return was forgotten with the old one.
    assert tracker.confirmed(2, multiple=True, ack=True) == [
        Published("p1", CONFIRMED),
        Published("p3", CONFIRMED),
    ]


def test_a_publish_that_keeps_closing_the_channel_is_nacked_and_the_rest_confirmed() -> None:
    tracker = tracker_with(5)
    send_all(tracker)
    tracker.confirmed(1, multiple=False, ack=True)
    reason = "404 NOT_FOUND - no exchange 'nope'"
    # The broker closes the channel with p2..p5 in flight: all are suspects; one at a time now.
    assert tracker.channel_lost(closed_by_broker=True, reason=reason) == []
    assert tracker.probing
    assert send_all(tracker) == ["p2"]
    assert confirm_in_flight(tracker) == [Published("p2", CONFIRMED)]
    assert send_all(tracker) == ["p3"]
    for strike in range(1, POISON_STRIKES + 1):
        given_up = tracker.channel_lost(closed_by_broker=True, reason=reason)
        if strike < POISON_STRIKES:
            assert given_up == []
            assert send_all(tracker) == ["p3"]
    assert given_up == [Published("p3", NACKED, reason)]
    assert send_all(tracker) == ["p4"]
    confirm_in_flight(tracker)
    assert send_all(tracker) == ["p5"]
    confirm_in_flight(tracker)
    assert (tracker.probing, tracker.unconfirmed_count) == (False, 0)


def test_after_probing_the_full_window_is_used_again() -> None:
    tracker = tracker_with(3)
    send_all(tracker)
    tracker.channel_lost(closed_by_broker=True, reason="406")
    assert send_all(tracker) == ["p1"]
    confirm_in_flight(tracker)
    assert send_all(tracker) == ["p2"]
    confirm_in_flight(tracker)
    assert send_all(tracker) == ["p3"]
    confirm_in_flight(tracker)
    for n in range(4, 8):
        tracker.submit(outgoing(n))
    assert send_all(tracker) == ["p4", "p5", "p6", "p7"]


def test_one_unrelated_channel_error_does_not_condemn_a_lone_publish() -> None:
    tracker = tracker_with(1)
    send_all(tracker)
    assert tracker.channel_lost(closed_by_broker=True, reason="406 consumer timeout") == []
    send_all(tracker)
    assert tracker.confirmed(1, multiple=False, ack=True) == [Published("p1", CONFIRMED)]


def test_connection_losses_never_strike() -> None:
    tracker = tracker_with(1)
    for _ in range(POISON_STRIKES + 2):
        send_all(tracker)
        assert tracker.channel_lost(closed_by_broker=False, reason="lost") == []
    assert tracker.unconfirmed_count == 1
