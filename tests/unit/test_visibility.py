from __future__ import annotations

import pytest

from homeserver.rules.visibility import (
    EventVisibilityFacts,
    effective_visibility,
    is_visible,
    seen_as_member,
)


def facts(
    visibility: str,
    membership: str | None,
    joined_later: bool = False,
    visibility_after: str | None = None,
    membership_after: str | None = "same",
) -> EventVisibilityFacts:
    return EventVisibilityFacts(
        visibility_before=visibility,
        membership_before=membership,
        visibility_after=visibility_after or visibility,
        membership_after=membership if membership_after == "same" else membership_after,
        joined_later=joined_later,
    )


@pytest.mark.parametrize(
    ("visibility", "membership", "joined_later", "expected"),
    [
        ("world_readable", None, False, True),
        ("world_readable", "leave", False, True),
        ("joined", "join", False, True),
        ("joined", "invite", True, False),
        ("joined", None, True, False),
        ("shared", None, True, True),
        ("shared", None, False, False),
        ("shared", "leave", False, False),
        ("invited", "invite", False, True),
        ("invited", "join", False, True),
        ("invited", None, True, False),
        ("invited", "leave", False, False),
        ("shared", "ban", True, True),
    ],
)
def test_rules(visibility: str, membership: str | None, joined_later: bool, expected: bool) -> None:
    assert is_visible(facts(visibility, membership, joined_later)) is expected


def test_visibility_change_is_visible_from_either_side() -> None:
    assert is_visible(facts("joined", None, visibility_after="world_readable"))
    assert is_visible(facts("world_readable", None, visibility_after="joined"))
    assert not is_visible(facts("joined", None, visibility_after="invited"))


def test_own_membership_change_is_visible_from_either_side() -> None:
    assert is_visible(facts("joined", None, membership_after="join"))
    assert is_visible(facts("joined", "join", membership_after="leave"))


def test_unknown_or_missing_setting_is_shared() -> None:
    assert effective_visibility(None) == "shared"
    assert effective_visibility("bogus") == "shared"
    assert effective_visibility(5) == "shared"
    assert effective_visibility("joined") == "joined"


@pytest.mark.parametrize(
    ("visibility", "membership", "expected"),
    [
        ("shared", "join", True),
        ("world_readable", "join", True),
        ("invited", "invite", True),
        # Visible, but only through the history visibility: not as a member.
        ("shared", None, False),
        ("shared", "invite", False),
        ("world_readable", None, False),
        ("world_readable", "leave", False),
    ],
)
def test_seen_as_member(visibility: str, membership: str | None, expected: bool) -> None:
    assert seen_as_member(facts(visibility, membership, joined_later=True)) is expected


def test_seen_as_member_on_either_side_of_a_membership_change() -> None:
    assert seen_as_member(facts("shared", None, membership_after="join")) is True
