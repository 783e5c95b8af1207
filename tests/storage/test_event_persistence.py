"""Persisting events into the DAG tables, with a minimal event in place of the engine's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from homeserver.services.rooms.event_persistence import EventPersister, TxnKey
from homeserver.services.rooms.recent_room_events import RecentRoomEvents
from homeserver.streams.notifier import LocalNotifier
from homeserver.streams.writer import StreamWriter
from homeserver.types.stream_token import Stream, StreamToken
from storage.stores import Stores
from storage.stores.state import MAX_DELTA_DEPTH

ROOM = "!room:test.local"
ALICE = "@alice:test.local"


@dataclass(frozen=True)
class FakeEvent:
    event_id: str
    type: str
    sender: str
    content: Mapping[str, Any]
    prev_event_ids: Sequence[str]
    depth: int
    state_key: str | None = None
    room_id: str = ROOM
    origin_server_ts: int = 0
    auth_event_ids: Sequence[str] = field(default_factory=list)
    redacts: str | None = None

    def canonical_json(self) -> str:
        return json.dumps({"event_id": self.event_id, "type": self.type}, sort_keys=True)


class Chain:
    """Builds a linear room the way the creation service will: prev = the extremity."""

    def __init__(self, stores: Stores, persister: EventPersister) -> None:
        self.stores = stores
        self.persister = persister
        self.count = 0

    async def add(self, type_: str, state_key: str | None = None, **content: Any) -> Any:
        async with self.persister.room_lock(ROOM):
            extremities = await self.stores.events.forward_extremities(ROOM)
            self.count += 1
            event = FakeEvent(
                event_id=f"${self.count}",
                type=type_,
                sender=ALICE,
                content=content,
                prev_event_ids=[e.event_id for e in extremities],
                depth=max((e.depth for e in extremities), default=0) + 1,
                state_key=state_key,
            )
            before = extremities[0].state_group if extremities else None
            return await self.persister.persist(
                event,
                before,
                created_room_version="10" if type_ == "m.room.create" else None,
                txn=TxnKey(ALICE, "DEV", f"t{self.count}"),
            )


async def test_linear_room(stores: Stores) -> None:
    notifier = LocalNotifier(StreamToken())
    persister = EventPersister(stores, StreamWriter(Stream.EVENTS, 0, notifier))
    chain = Chain(stores, persister)
    await stores.users.create(ALICE, None, 0)
    with notifier.listen(ALICE, [ROOM]) as listener:
        create = await chain.add("m.room.create", "", creator=ALICE)
        member = await chain.add("m.room.member", ALICE, membership="join", displayname="A")
        first = await chain.add("m.room.message", body="hi")
        second = await chain.add("m.room.message", body="again")
        assert await listener.wait(0) is True
    assert notifier.current_token.events == second.stream_ordering
    assert create.stream_ordering < member.stream_ordering < first.stream_ordering

    # Messages share the snapshot of the state they were sent in.
    assert first.state_group == second.state_group == member.state_group
    assert create.state_group != member.state_group
    state = await stores.state.get_state(member.state_group)
    assert state == {("m.room.create", ""): "$1", ("m.room.member", ALICE): "$2"}

    assert await stores.rooms.current_state_ids(ROOM) == state
    membership = await stores.rooms.membership(ROOM, ALICE)
    assert membership is not None
    assert (membership.membership, membership.display_name) == ("join", "A")
    assert await stores.rooms.rooms_for_user(ALICE) == [ROOM]
    assert [e.event_id for e in await stores.events.forward_extremities(ROOM)] == ["$4"]
    assert await stores.events.event_txn(ALICE, "DEV", "t3") == "$3"
    room = await stores.rooms.get(ROOM)
    assert room is not None and room.room_version == "10"

    page = await stores.events.room_events_page(
        ROOM, from_position=(10**9, 0), to_position=None, backwards=True, limit=3
    )
    assert [e.event_id for e in page] == ["$4", "$3", "$2"]


async def test_state_chains_stay_short(stores: Stores) -> None:
    persister = EventPersister(stores, StreamWriter(Stream.EVENTS, 0, LocalNotifier(StreamToken())))
    chain = Chain(stores, persister)
    await stores.users.create(ALICE, None, 0)
    await chain.add("m.room.create", "")
    last = None
    for n in range(MAX_DELTA_DEPTH + 10):
        last = await chain.add("org.example.state", str(n), n=n)
    assert last is not None
    state = await stores.state.get_state(last.state_group)
    assert len(state) == MAX_DELTA_DEPTH + 11
    filtered = await stores.state.get_state(last.state_group, [("org.example.state", "3")])
    assert filtered == {("org.example.state", "3"): "$5"}
    async with stores.db.connection() as conn:
        depth = await conn.fetchval(
            "t", "SELECT MAX(delta_depth) FROM state_groups WHERE room_id = $1", ROOM
        )
    assert depth <= MAX_DELTA_DEPTH


async def test_concurrent_sends_stay_linear(stores: Stores) -> None:
    persister = EventPersister(stores, StreamWriter(Stream.EVENTS, 0, LocalNotifier(StreamToken())))
    chain = Chain(stores, persister)
    await stores.users.create(ALICE, None, 0)
    await chain.add("m.room.create", "")
    await asyncio.gather(*(chain.add("m.room.message", body=str(n)) for n in range(20)))
    extremities = await stores.events.forward_extremities(ROOM)
    assert len(extremities) == 1
    async with stores.db.connection() as conn:
        forks = await conn.fetchval(
            "t",
            """SELECT COUNT(*) FROM (SELECT prev_event_id FROM event_edges
               GROUP BY prev_event_id HAVING COUNT(*) > 1) AS f""",
        )
    assert forks == 0


async def test_failed_persist_is_abandoned_and_rolled_back(stores: Stores) -> None:
    notifier = LocalNotifier(StreamToken())
    persister = EventPersister(stores, StreamWriter(Stream.EVENTS, 0, notifier))
    chain = Chain(stores, persister)
    await stores.users.create(ALICE, None, 0)
    create = await chain.add("m.room.create", "")
    duplicate = FakeEvent("$1", "m.room.message", ALICE, {}, ["$1"], 2)
    with pytest.raises(Exception, match="duplicate key"):
        async with persister.room_lock(ROOM):
            await persister.persist(duplicate, create.state_group)
    # The abandoned position does not block the stream.
    done = await chain.add("m.room.message", body="after")
    assert notifier.current_token.events == done.stream_ordering


async def test_recent_room_events_match_the_database(stores: Stores) -> None:
    persister = EventPersister(stores, StreamWriter(Stream.EVENTS, 0, LocalNotifier(StreamToken())))
    chain = Chain(stores, persister)
    await stores.users.create(ALICE, None, 0)
    await chain.add("m.room.create", "")
    sent = [await chain.add("m.room.message", body=str(n)) for n in range(8)]
    recent = RecentRoomEvents(stores, per_room=5)
    head = sent[-1].stream_ordering

    async def both(since: int, upto: int, limit: int) -> list[str]:
        cached = [e.event_id for e in (await recent.pages([ROOM], since, upto, limit))[ROOM]]
        direct = await stores.events.room_stream_pages([ROOM], since, upto, limit)
        assert cached == [e.event_id for e in direct[ROOM]]
        return cached

    # Concurrent readers of one wake-up share a single read, and later ones are served
    # from memory; both must agree with the database for every window.
    pages = await asyncio.gather(*(both(sent[3].stream_ordering, head, 11) for _ in range(5)))
    assert pages[0] == ["$9", "$8", "$7", "$6"]
    assert await both(sent[5].stream_ordering, head, 11) == ["$9", "$8"]
    assert await both(sent[5].stream_ordering, sent[6].stream_ordering, 11) == ["$8"]
    assert await both(0, head, 3) == ["$9", "$8", "$7"]
    assert await both(sent[0].stream_ordering, head, 11) == [f"${n}" for n in range(9, 2, -1)]


async def test_state_of_many_snapshots_at_once(stores: Stores) -> None:
    persister = EventPersister(stores, StreamWriter(Stream.EVENTS, 0, LocalNotifier(StreamToken())))
    chain = Chain(stores, persister)
    await stores.users.create(ALICE, None, 0)
    create = await chain.add("m.room.create", "")
    topic = await chain.add("m.room.topic", "", topic="a")
    message = await chain.add("m.room.message", body="x")
    groups = await stores.events.state_groups_at(
        [(ROOM, message.stream_ordering), (ROOM, create.stream_ordering), (ROOM, 0)]
    )
    assert groups == [topic.state_group, create.state_group, None]
    states = await stores.state.get_states([topic.state_group, create.state_group])
    assert states[topic.state_group] == {("m.room.create", ""): "$1", ("m.room.topic", ""): "$2"}
    assert states[create.state_group] == {("m.room.create", ""): "$1"}
    only_topic = await stores.state.get_states([topic.state_group], [("m.room.topic", "")])
    assert only_topic == {topic.state_group: {("m.room.topic", ""): "$2"}}


async def test_snapshots_with_only_some_members(stores: Stores) -> None:
    persister = EventPersister(stores, StreamWriter(Stream.EVENTS, 0, LocalNotifier(StreamToken())))
    chain = Chain(stores, persister)
    await stores.users.create(ALICE, None, 0)
    await chain.add("m.room.create", "")
    for n in range(12):
        await chain.add("m.room.member", f"@u{n}:test.local", membership="join")
    last = await chain.add("m.room.topic", "", topic="a")
    group = last.state_group
    wanted = ["@u3:test.local", "@u11:test.local", "@nobody:test.local"]
    lazy = (await stores.state.get_states([group], members=wanted))[group]
    assert set(lazy) == {
        ("m.room.create", ""),
        ("m.room.topic", ""),
        ("m.room.member", "@u3:test.local"),
        ("m.room.member", "@u11:test.local"),
    }
    both = await stores.state.get_states(
        [group], [("m.room.topic", ""), ("m.room.member", "@u5:test.local")], members=wanted
    )
    assert set(both[group]) == {("m.room.topic", "")}
    full = await stores.state.get_state(group)
    assert len(full) == 14 and all(full[k] == v for k, v in lazy.items())
