"""The server-default push rules of spec v1.19 ("Predefined Rules"), in the spec's order.

User-dependent values (the user's ID, its localpart) are placeholders resolved when a rule
is evaluated or rendered, so these tuples are shared by every user.

Spec v1.17 removed the legacy body-mention rules (.m.rule.contains_display_name,
.m.rule.roomnotif, .m.rule.contains_user_name; MSC4210), so `DEFAULT_RULES` does not have
them. `LEGACY_DEFAULT_RULES` adds them back where Synapse has them, for servers whose users'
clients do not send `m.mentions` yet; as in Synapse they are skipped for an event that has
`m.mentions` (the client said whom it mentions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from homeserver.rules.push.model import (
    Action,
    Condition,
    ContainsDisplayName,
    EventMatch,
    EventPropertyContains,
    EventPropertyIs,
    Placeholder,
    PushRule,
    RoomMemberCount,
    RuleKind,
    SenderNotificationPermission,
)
from homeserver.types.frozen import freeze

MASTER = ".m.rule.master"

NOTIFY: Action = "notify"
SOUND_DEFAULT: Action = freeze({"set_tweak": "sound", "value": "default"})
SOUND_RING: Action = freeze({"set_tweak": "sound", "value": "ring"})
HIGHLIGHT: Action = freeze({"set_tweak": "highlight"})


def _rule(
    kind: RuleKind,
    rule_id: str,
    conditions: tuple[Condition, ...],
    actions: tuple[Action, ...],
    *,
    enabled: bool = True,
) -> PushRule:
    return PushRule(kind, rule_id, True, enabled, actions, conditions)


def _override(rule_id: str, *conditions: Condition, actions: tuple[Action, ...] = ()) -> PushRule:
    return _rule(RuleKind.OVERRIDE, rule_id, conditions, actions)


def _underride(rule_id: str, *conditions: Condition, actions: tuple[Action, ...]) -> PushRule:
    return _rule(RuleKind.UNDERRIDE, rule_id, conditions, actions)


_TYPE_MEMBER = EventMatch("type", "m.room.member")
_STATE_KEY_EMPTY = EventMatch("state_key", "")
_ROOM_PERMISSION = SenderNotificationPermission("room")
_TWO_MEMBERS = RoomMemberCount("2")

MASTER_RULE = _rule(RuleKind.OVERRIDE, MASTER, (), (), enabled=False)

SUPPRESS_NOTICES = _override(".m.rule.suppress_notices", EventMatch("content.msgtype", "m.notice"))
INVITE_FOR_ME = _override(
    ".m.rule.invite_for_me",
    _TYPE_MEMBER,
    EventMatch("content.membership", "invite"),
    EventMatch("state_key", "", Placeholder.USER_ID),
    actions=(NOTIFY, SOUND_DEFAULT),
)
MEMBER_EVENT = _override(".m.rule.member_event", _TYPE_MEMBER)
IS_USER_MENTION = _override(
    ".m.rule.is_user_mention",
    EventPropertyContains(r"content.m\.mentions.user_ids", "", Placeholder.USER_ID),
    actions=(NOTIFY, SOUND_DEFAULT, HIGHLIGHT),
)
IS_ROOM_MENTION = _override(
    ".m.rule.is_room_mention",
    EventPropertyIs(r"content.m\.mentions.room", True),
    _ROOM_PERMISSION,
    actions=(NOTIFY, HIGHLIGHT),
)
TOMBSTONE = _override(
    ".m.rule.tombstone",
    EventMatch("type", "m.room.tombstone"),
    _STATE_KEY_EMPTY,
    actions=(NOTIFY, HIGHLIGHT),
)
REACTION = _override(".m.rule.reaction", EventMatch("type", "m.reaction"))
SERVER_ACL = _override(
    ".m.rule.room.server_acl", EventMatch("type", "m.room.server_acl"), _STATE_KEY_EMPTY
)
SUPPRESS_EDITS = _override(
    ".m.rule.suppress_edits", EventPropertyIs(r"content.m\.relates_to.rel_type", "m.replace")
)

CALL = _underride(".m.rule.call", EventMatch("type", "m.call.invite"), actions=(NOTIFY, SOUND_RING))
ENCRYPTED_ONE_TO_ONE = _underride(
    ".m.rule.encrypted_room_one_to_one",
    _TWO_MEMBERS,
    EventMatch("type", "m.room.encrypted"),
    actions=(NOTIFY, SOUND_DEFAULT),
)
ONE_TO_ONE = _underride(
    ".m.rule.room_one_to_one",
    _TWO_MEMBERS,
    EventMatch("type", "m.room.message"),
    actions=(NOTIFY, SOUND_DEFAULT),
)
MESSAGE = _underride(".m.rule.message", EventMatch("type", "m.room.message"), actions=(NOTIFY,))
ENCRYPTED = _underride(
    ".m.rule.encrypted", EventMatch("type", "m.room.encrypted"), actions=(NOTIFY,)
)

# The legacy rules removed in v1.17 (see the module docstring).
CONTAINS_DISPLAY_NAME = _override(
    ".m.rule.contains_display_name",
    ContainsDisplayName(),
    actions=(NOTIFY, SOUND_DEFAULT, HIGHLIGHT),
)
ROOMNOTIF = _override(
    ".m.rule.roomnotif",
    _ROOM_PERMISSION,
    EventMatch("content.body", "@room"),
    actions=(NOTIFY, HIGHLIGHT),
)
CONTAINS_USER_NAME = PushRule(
    RuleKind.CONTENT,
    ".m.rule.contains_user_name",
    True,
    True,
    (NOTIFY, SOUND_DEFAULT, HIGHLIGHT),
    pattern_placeholder=Placeholder.USER_LOCALPART,
)
LEGACY_MENTION_RULE_IDS = frozenset(
    (CONTAINS_DISPLAY_NAME.rule_id, ROOMNOTIF.rule_id, CONTAINS_USER_NAME.rule_id)
)


@dataclass(frozen=True, eq=False)
class DefaultRules:
    """One set of server-default rules: `master` goes before the user's override rules,
    each other kind's defaults after the user's rules of that kind."""

    master: PushRule
    override: tuple[PushRule, ...]
    content: tuple[PushRule, ...]
    underride: tuple[PushRule, ...]
    by_id: Mapping[str, PushRule] = field(init=False)

    def __post_init__(self) -> None:
        rules = (self.master, *self.override, *self.content, *self.underride)
        object.__setattr__(self, "by_id", {rule.rule_id: rule for rule in rules})

    def of_kind(self, kind: RuleKind) -> tuple[PushRule, ...]:
        """Every default rule of `kind`, in order (master first among overrides)."""
        if kind == RuleKind.OVERRIDE:
            return (self.master, *self.override)
        if kind == RuleKind.CONTENT:
            return self.content
        if kind == RuleKind.UNDERRIDE:
            return self.underride
        return ()

    def find(self, kind: RuleKind, rule_id: str) -> PushRule | None:
        rule = self.by_id.get(rule_id)
        return rule if rule is not None and rule.kind == kind else None


_UNDERRIDE = (CALL, ENCRYPTED_ONE_TO_ONE, ONE_TO_ONE, MESSAGE, ENCRYPTED)

DEFAULT_RULES = DefaultRules(
    master=MASTER_RULE,
    override=(
        SUPPRESS_NOTICES,
        INVITE_FOR_ME,
        MEMBER_EVENT,
        IS_USER_MENTION,
        IS_ROOM_MENTION,
        TOMBSTONE,
        REACTION,
        SERVER_ACL,
        SUPPRESS_EDITS,
    ),
    content=(),
    underride=_UNDERRIDE,
)

# Synapse's order: the legacy rules sit after the m.mentions rule each one stands in for.
LEGACY_DEFAULT_RULES = DefaultRules(
    master=MASTER_RULE,
    override=(
        SUPPRESS_NOTICES,
        INVITE_FOR_ME,
        MEMBER_EVENT,
        IS_USER_MENTION,
        CONTAINS_DISPLAY_NAME,
        IS_ROOM_MENTION,
        ROOMNOTIF,
        TOMBSTONE,
        REACTION,
        SERVER_ACL,
        SUPPRESS_EDITS,
    ),
    content=(CONTAINS_USER_NAME,),
    underride=_UNDERRIDE,
)
