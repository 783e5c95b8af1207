"""Builds real, signed events of any room version for engine tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from signedjson.key import generate_signing_key

from homeserver.rules.auth_events import select_auth_event_ids
from homeserver.rules.auth_rules import check_auth
from homeserver.rules.events import build_local_event
from homeserver.types.event import CREATE, Event, StateKey
from homeserver.types.room_versions import ROOM_VERSIONS

SERVER = "a.test"
ALICE = "@alice:a.test"
BOB = "@bob:a.test"
CAROL = "@carol:a.test"
DAVE = "@dave:a.test"
KEY = generate_signing_key("1")


class Room:
    """A room whose events are kept in memory; `state` follows the main line of events."""

    def __init__(self, version: str = "10", creator: str = ALICE) -> None:
        self.version = ROOM_VERSIONS[version]
        self.events: dict[str, Event] = {}
        self.state: dict[StateKey, str] = {}
        self.head: list[str] = []
        self.clock = itertools.count(1000)
        self.room_id: str | None = None if self.version.room_id_from_create_event else "!r:a.test"
        create_content: dict[str, Any] = {"room_version": version}
        if not self.version.implicit_room_creator:
            create_content["creator"] = creator
        self.create = self.send(CREATE, creator, create_content, state_key="")
        if self.room_id is None:
            self.room_id = "!" + self.create.event_id[1:]

    def auth_map(self, event: Event, state: Mapping[StateKey, str]) -> dict[StateKey, Event]:
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
    ) -> Event:
        state = self.state if state is None else state
        prev = self.head if prev is None else prev
        auth_ids = select_auth_event_ids(
            self.version, event_type, sender, state_key, content, state
        )
        depth = max((self.events[p].depth for p in prev), default=0) + 1
        return build_local_event(
            self.version,
            server_name=SERVER,
            signing_key=KEY,
            room_id=None
            if self.version.room_id_from_create_event and event_type == CREATE
            else self.room_id,
            sender=sender,
            event_type=event_type,
            content=content,
            prev_event_ids=list(prev),
            auth_event_ids=auth_ids,
            depth=depth,
            origin_server_ts=next(self.clock) if ts is None else ts,
            state_key=state_key,
        )

    def check(self, event: Event, state: Mapping[StateKey, str] | None = None) -> None:
        check_auth(event, self.auth_map(event, self.state if state is None else state))

    def send(
        self, event_type: str, sender: str, content: Mapping[str, Any], **options: Any
    ) -> Event:
        """Build, authorise (raising AuthError) and append to the main line."""
        event = self.build(event_type, sender, content, **options)
        if event.type != CREATE:
            self.check(event, options.get("state"))
        self.events[event.event_id] = event
        if options.get("prev") is None:
            self.head = [event.event_id]
            if event.state_key is not None:
                self.state[event.state_pair] = event.event_id
        return event

    def add(self, event: Event) -> Event:
        """Keep an event built on a fork (not on the main line)."""
        self.events[event.event_id] = event
        return event

    def join(self, user: str) -> Event:
        return self.send("m.room.member", user, {"membership": "join"}, state_key=user)

    def public(self, users: Mapping[str, int] | None = None) -> Room:
        """Creator joins, power levels, public join rule: the usual start of a room."""
        creator = self.create.sender
        self.join(creator)
        levels = {creator: 100, **(users or {})}
        if self.version.additional_creators:
            levels.pop(creator)
        self.send("m.room.power_levels", creator, {"users": levels}, state_key="")
        self.send("m.room.join_rules", creator, {"join_rule": "public"}, state_key="")
        return self
