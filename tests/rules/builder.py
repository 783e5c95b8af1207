"""Builds real, signed events of any room version for engine tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from signedjson.key import generate_signing_key

from homeserver.rules.auth_events import select_auth_event_ids
from homeserver.rules.auth_rules import check_auth
from homeserver.rules.events import build_local_event
from homeserver.rules.state_res_common import InMemoryEventSource
from homeserver.types.event import CREATE, Event, StateKey
from homeserver.types.ids import server_name_of
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS

SERVER = "a.test"
ALICE = "@alice:a.test"
BOB = "@bob:a.test"
CAROL = "@carol:a.test"
DAVE = "@dave:a.test"
EVE = "@eve:b.test"
KEY = generate_signing_key("1")
KEYS = {SERVER: KEY, "b.test": generate_signing_key("1")}
ALL_VERSIONS = [str(v) for v in range(1, 13)]


class Room:
    """A room whose events are kept in memory; `state` follows the main line of events."""

    def __init__(
        self,
        version: str = "10",
        creator: str = ALICE,
        create_content: Mapping[str, Any] | None = None,
    ) -> None:
        self.version = KNOWN_ROOM_VERSIONS[version]
        self.events: dict[str, Event] = {}
        self.state: dict[StateKey, str] = {}
        self.head: list[str] = []
        self.clock = itertools.count(1000)
        self.room_id: str | None = None if self.version.room_id_from_create_event else "!r:a.test"
        content: dict[str, Any] = {"room_version": version, **(create_content or {})}
        if not self.version.implicit_room_creator:
            content["creator"] = creator
        self.create = self.send(CREATE, creator, content, state_key="")
        if self.room_id is None:
            self.room_id = self.create.room_id

    def source(self) -> InMemoryEventSource:
        return InMemoryEventSource(self.events)

    def auth_map(self, event: Event) -> dict[StateKey, Event]:
        """The event's cited auth events keyed by (type, state_key), plus the implied v12
        create event."""
        auth = {self.events[i].state_pair: self.events[i] for i in event.auth_event_ids}
        if self.version.room_id_from_create_event and event.type != CREATE:
            auth[(CREATE, "")] = self.create
        return auth

    def build(
        self,
        event_type: str,
        sender: str,
        content: Mapping[str, Any],
        *,
        state_key: str | None = None,
        prev: Sequence[str] | None = None,
        state: Mapping[StateKey, str] | None = None,
        ts: int | None = None,
        server: str | None = None,
        redacts: str | None = None,
    ) -> Event:
        """An event signed by `server` (default: the sender's), citing the auth events
        `state` (default: the main line's) selects."""
        state = self.state if state is None else state
        prev = self.head if prev is None else prev
        auth_ids = select_auth_event_ids(
            self.version, event_type, sender, state_key, content, state
        )
        depth = max((self.events[p].depth for p in prev), default=0) + 1
        server = server or server_name_of(sender)
        is_v12_create = self.version.room_id_from_create_event and event_type == CREATE
        return build_local_event(
            self.version,
            server_name=server,
            signing_key=KEYS[server],
            room_id=None if is_v12_create else self.room_id,
            sender=sender,
            event_type=event_type,
            content=content,
            prev_event_ids=list(prev),
            auth_event_ids=auth_ids,
            depth=depth,
            origin_server_ts=next(self.clock) if ts is None else ts,
            state_key=state_key,
            redacts=redacts,
        )

    def check(self, event: Event) -> None:
        check_auth(event, self.auth_map(event))

    def send(
        self, event_type: str, sender: str, content: Mapping[str, Any], **options: Any
    ) -> Event:
        """Build, authorise (raising AuthError) and append to the main line."""
        event = self.build(event_type, sender, content, **options)
        self.check(event)
        return self.append(event)

    def append(self, event: Event) -> Event:
        self.events[event.event_id] = event
        self.head = [event.event_id]
        if event.state_key is not None:
            self.state[event.state_pair] = event.event_id
        return event

    def join(self, user: str, **content: Any) -> Event:
        return self.send("m.room.member", user, {"membership": "join", **content}, state_key=user)

    def member(self, sender: str, target: str, membership: str, **content: Any) -> Event:
        return self.send(
            "m.room.member", sender, {"membership": membership, **content}, state_key=target
        )

    def levels(self, users: Mapping[str, int], **other: Any) -> dict[str, Any]:
        """Power levels content giving the creator 100 (implicit in v12) and `users`."""
        levels = {self.create.sender: 100, **users}
        if self.version.privileged_creators:
            levels.pop(self.create.sender)
        return {"users": levels, **other}

    def public(self, users: Mapping[str, int] | None = None) -> Room:
        """Creator joins, power levels, public join rule: the usual start of a room."""
        creator = self.create.sender
        self.join(creator)
        self.send("m.room.power_levels", creator, self.levels(users or {}), state_key="")
        self.send("m.room.join_rules", creator, {"join_rule": "public"}, state_key="")
        return self
