"""Ignoring users (spec: Ignoring Users).

The ignore list is the `m.ignored_user_list` account data; the events of ignored users are
not sent to the user who ignores them, except state events, which are always sent so that
the room does not look different (its name, its members) because of whom one ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.types.event import Event

IGNORED_USER_LIST = "m.ignored_user_list"


def ignored_user_ids(content: Mapping[str, Any] | None) -> frozenset[str]:
    """The users an `m.ignored_user_list` content names. Content not shaped as the spec
    describes (`ignored_users` not an object) ignores nobody, as in Synapse, which stores
    whatever the client writes."""
    listed = content.get("ignored_users") if content is not None else None
    if not isinstance(listed, Mapping):
        return frozenset()
    return frozenset(key for key in listed if isinstance(key, str))


def hidden_by_ignore(event: Event, ignored: frozenset[str]) -> bool:
    return event.state_key is None and event.sender in ignored
