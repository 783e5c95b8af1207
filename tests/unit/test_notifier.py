from __future__ import annotations

import asyncio

from homeserver.streams.change_index import ChangeIndex
from homeserver.streams.notifier import LocalNotifier
from homeserver.types.stream_token import InvalidToken, Stream, StreamToken


async def test_room_change_wakes_only_listeners_in_that_room() -> None:
    notifier = LocalNotifier(StreamToken())
    with (
        notifier.listen("@a:x", ["!r1:x"]) as in_room,
        notifier.listen("@b:x", ["!r2:x"]) as elsewhere,
    ):
        notifier.notify(Stream.EVENTS, 5, rooms=["!r1:x"])
        assert await in_room.wait(1) is True
        assert await elsewhere.wait(0.01) is False
    assert notifier.current_token.events == 5
    assert notifier.waiting == 0


async def test_user_change_wakes_that_user() -> None:
    notifier = LocalNotifier(StreamToken())
    with notifier.listen("@a:x", []) as listener:
        waiting = asyncio.create_task(listener.wait(5))
        await asyncio.sleep(0)
        notifier.notify(Stream.TO_DEVICE, 1, users=["@a:x"])
        assert await waiting is True


async def test_a_change_before_waiting_is_not_lost() -> None:
    notifier = LocalNotifier(StreamToken())
    with notifier.listen("@a:x", ["!r:x"]) as listener:
        notifier.notify(Stream.EVENTS, 1, rooms=["!r:x"])
        assert await listener.wait(0) is True
        assert await listener.wait(0.01) is False


async def test_a_wake_after_a_timed_out_wait_is_kept_for_the_next() -> None:
    notifier = LocalNotifier(StreamToken())
    with notifier.listen("@a:x", ["!r:x"]) as listener:
        assert await listener.wait(0.01) is False
        notifier.notify(Stream.EVENTS, 1, rooms=["!r:x"])
        assert await listener.wait(5) is True


async def test_a_cancelled_wait_leaves_the_listener_usable() -> None:
    notifier = LocalNotifier(StreamToken())
    with notifier.listen("@a:x", []) as listener:
        waiting = asyncio.create_task(listener.wait(5))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        notifier.notify(Stream.TO_DEVICE, 1, users=["@a:x"])
        assert await listener.wait(5) is True
    assert notifier.waiting == 0


def test_token_round_trip_and_old_formats() -> None:
    token = StreamToken(events=5, typing=2, push_rules=9)
    assert StreamToken.parse(token.serialize()) == token
    assert StreamToken.parse("s7_1") == StreamToken(events=7, account_data=1)
    for bad in ("", "x1", "s1_a", "s-1", "s" + "_".join(["1"] * 20)):
        try:
            StreamToken.parse(bad)
        except InvalidToken:
            continue
        raise AssertionError(f"{bad!r} parsed")


def test_advance_never_goes_back() -> None:
    token = StreamToken(events=5)
    assert token.advance(Stream.EVENTS, 3) is token
    assert token.advance(Stream.EVENTS, 6).events == 6
    assert token.advance(Stream.EVENTS, 6).is_after(token)


async def test_writer_holds_back_changes_behind_an_in_flight_position() -> None:
    from homeserver.streams.writer import StreamWriter

    notifier = LocalNotifier(StreamToken())
    writer = StreamWriter(Stream.EVENTS, 0, notifier)
    with notifier.listen("@a:x", ["!r2:x"]) as listener:
        writer.begin(1)
        writer.begin(2)
        writer.committed(2, rooms=["!r2:x"])
        assert await listener.wait(0.01) is False
        assert notifier.current_token.events == 0
        writer.abandoned(1)
        assert await listener.wait(0.01) is True
        assert notifier.current_token.events == 2


def test_change_index_answers_only_for_positions_it_saw() -> None:
    index = ChangeIndex(start=10)
    index.record(11, ["@a:x", "!r:x"])
    index.record(13, ["@b:x"])
    assert index.changed("@a:x", 10) and not index.changed("@a:x", 11)
    assert not index.changed("@c:x", 10)
    assert index.changed_among(["@a:x", "@b:x", "@c:x"], 12) == {"@b:x"}
    # Before the index started, or past its head (a restarted in-memory stream): unknown.
    assert index.changed("@c:x", 9) and index.changed_among(["@c:x"], 9) is None
    assert index.changed("@c:x", 14) and index.changed_among(["@c:x"], 14) is None


def test_change_index_forgets_the_oldest_and_says_so() -> None:
    index = ChangeIndex(start=0, max_entities=4)
    for position, user in enumerate(["@a:x", "@b:x", "@c:x", "@d:x", "@e:x"], start=1):
        index.record(position, [user])
    # @a's change was forgotten, so positions before it can no longer be answered.
    assert index.changed_among(["@a:x"], 0) is None
    assert index.changed_among(["@e:x", "@a:x"], 4) == {"@e:x"}


def test_notifier_records_changes_by_stream() -> None:
    notifier = LocalNotifier(StreamToken(events=3))
    notifier.notify(Stream.EVENTS, 4, rooms=["!r:x"], users=["@a:x"])
    events = notifier.changes(Stream.EVENTS)
    assert events.changed("!r:x", 3) and events.changed("@a:x", 3)
    assert not notifier.changes(Stream.RECEIPTS).changed("!r:x", 0)


async def test_positions_are_begun_in_the_order_the_sequence_gave_them() -> None:
    """The second writer's sequence answer arrives first; it must not be published ahead of
    the first writer's position."""
    from homeserver.streams.writer import StreamWriter

    notifier = LocalNotifier(StreamToken())
    writer = StreamWriter(Stream.PRESENCE, 0, notifier)
    counter = iter(range(1, 10))
    delays = {1: 0.05, 2: 0.0}
    first_stored = asyncio.Event()

    async def next_positions(count: int) -> list[int]:
        positions = [next(counter) for _ in range(count)]
        await asyncio.sleep(delays[positions[0]])
        return positions

    async def store(position: int) -> None:
        if position == 1:
            await asyncio.sleep(0.05)
            first_stored.set()
        else:
            assert notifier.current_token.presence == 0

    results = await asyncio.gather(
        writer.write(next_positions, store, users=["@a:x"]),
        writer.write(next_positions, store, users=["@b:x"]),
    )
    assert sorted(results) == [1, 2]
    assert first_stored.is_set()
    assert notifier.current_token.presence == 2


async def test_positions_are_reserved_in_blocks_and_handed_out_in_order() -> None:
    from homeserver.streams.writer import StreamWriter

    notifier = LocalNotifier(StreamToken())
    writer = StreamWriter(Stream.EVENTS, 0, notifier)
    sequence = iter(range(1, 1000))
    asked: list[int] = []

    async def next_positions(count: int) -> list[int]:
        asked.append(count)
        await asyncio.sleep(0.01)
        return [next(sequence) for _ in range(count)]

    positions = await asyncio.gather(*(writer.allocate(next_positions) for _ in range(100)))
    assert positions == list(range(1, 101))
    assert len(asked) < 10, "one round trip per block, not per position"
    for position in reversed(positions):
        writer.committed(position)
    assert notifier.current_token.events == 100


async def test_presence_wakes_a_user_at_once_then_at_most_once_per_interval() -> None:
    notifier = LocalNotifier(StreamToken(), presence_wake_interval_s=0.2)
    with notifier.listen("@a:x", []) as listener:
        notifier.notify(Stream.PRESENCE, 1, users=["@a:x"])
        assert await listener.wait(0.01), "the first change wakes at once"
        notifier.notify(Stream.PRESENCE, 2, users=["@a:x"])
        notifier.notify(Stream.PRESENCE, 3, users=["@a:x"])
        assert not await listener.wait(0.1), "later ones wait for the interval"
        assert notifier.current_token.presence == 3, "the token carries them already"
        assert await listener.wait(0.3), "the end of the interval wakes once"
        assert not await listener.wait(0.05)
        notifier.notify(Stream.EVENTS, 4, users=["@a:x"])
        assert await listener.wait(0.01), "other streams are not held back"


async def test_presence_in_a_busy_room_is_recorded_without_waking() -> None:
    notifier = LocalNotifier(StreamToken(), presence_wake_room_limit=1)
    with (
        notifier.listen("@a:x", ["!busy:x", "!quiet:x"]) as a,
        notifier.listen("@b:x", ["!busy:x"]) as b,
        notifier.listen("@c:x", ["!other:x"]) as c,
    ):
        notifier.notify(Stream.PRESENCE, 1, users=["@z:x"], rooms=["!busy:x"])
        assert not await a.wait(0.01) and not await b.wait(0.01)
        notifier.notify(Stream.PRESENCE, 2, users=["@z:x"], rooms=["!quiet:x"])
        assert await a.wait(0.01), "one waits in the quiet room: woken"
        assert not await b.wait(0.01) and not await c.wait(0.01)
        notifier.notify(Stream.PRESENCE, 3, users=["@b:x"])
        assert await b.wait(0.01), "the user's own change wakes them"
    index = notifier.changes(Stream.PRESENCE)
    assert index.changed_among(["!busy:x", "!quiet:x", "!other:x"], 0) == {"!busy:x", "!quiet:x"}
