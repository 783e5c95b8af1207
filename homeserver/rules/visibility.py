"""History visibility (spec: Room History Visibility, server behaviour).

Whether a user may see an event depends on the room's state *at that event*: the
`m.room.history_visibility` setting and the user's membership then. The caller supplies
those, so this stays a pure decision.
"""

from __future__ import annotations

from dataclasses import dataclass

WORLD_READABLE = "world_readable"
SHARED = "shared"
INVITED = "invited"
JOINED = "joined"
_KNOWN = {WORLD_READABLE, SHARED, INVITED, JOINED}

HISTORY_VISIBILITY_TYPE = "m.room.history_visibility"
MEMBER_TYPE = "m.room.member"


def effective_visibility(value: object) -> str:
    """No setting, or one not understood, counts as `shared`."""
    return value if isinstance(value, str) and value in _KNOWN else SHARED


@dataclass(frozen=True, slots=True)
class EventVisibilityFacts:
    """What is known about one event for one user.

    `*_after` differ from the `*_before` values only for the state event that changed them
    (a history visibility change, or the user's own membership change).
    """

    visibility_before: str
    membership_before: str | None
    visibility_after: str
    membership_after: str | None
    # Whether the user joined the room at some point after this event.
    joined_later: bool


def _allowed(visibility: str, membership: str | None, joined_later: bool) -> bool:
    if visibility == WORLD_READABLE:  # rule 1
        return True
    if membership == "join":  # rule 2
        return True
    if visibility == SHARED and joined_later:  # rule 3
        return True
    return membership == "invite" and visibility == INVITED  # rules 4 and 5


def seen_as_member(facts: EventVisibilityFacts) -> bool:
    """Whether the user's membership at the event lets them see it (rules 2, 4 and 5), not
    only the room's history visibility (rules 1 and 3). An erased user's messages are
    shown only to the former (spec: POST /account/deactivate, `erase`); others see them
    redacted, as in Synapse."""
    return any(
        membership == "join" or (membership == "invite" and visibility == INVITED)
        for visibility, membership in (
            (facts.visibility_before, facts.membership_before),
            (facts.visibility_after, facts.membership_after),
        )
    )


def is_visible(facts: EventVisibilityFacts) -> bool:
    """Either side of a visibility or own-membership change counts, as the spec asks;
    for other events both sides are the same."""
    return _allowed(
        facts.visibility_before, facts.membership_before, facts.joined_later
    ) or _allowed(facts.visibility_after, facts.membership_after, facts.joined_later)
