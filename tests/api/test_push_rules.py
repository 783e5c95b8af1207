"""Push rules: the /pushrules API, m.push_rules in /sync, and rules copied on room upgrade."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import yarl

from homeserver.app import Homeserver
from homeserver.rules.push.defaults import DEFAULT_RULES, DefaultRules
from homeserver.rules.push.model import EventMatch, PushRule, RuleKind
from homeserver.rules.push.ruleset import uncustomised
from homeserver.services.push import push_rules as push_rules_module
from homeserver.services.push.push_rules import PushRuleService
from tests.api.harness import Client, Response, make_config, start_server
from tests.api.rooms_helpers import V3, User

DEFAULT_OVERRIDE = [
    ".m.rule.master",
    ".m.rule.suppress_notices",
    ".m.rule.invite_for_me",
    ".m.rule.member_event",
    ".m.rule.is_user_mention",
    ".m.rule.is_room_mention",
    ".m.rule.tombstone",
    ".m.rule.reaction",
    ".m.rule.room.server_acl",
    ".m.rule.suppress_edits",
]
DEFAULT_UNDERRIDE = [
    ".m.rule.call",
    ".m.rule.encrypted_room_one_to_one",
    ".m.rule.room_one_to_one",
    ".m.rule.message",
    ".m.rule.encrypted",
]
G = "/pushrules/global"
KINDS = ["override", "content", "room", "sender", "underride"]
NOTICE = {"kind": "event_match", "key": "content.msgtype", "pattern": "m.notice"}


async def raw(
    user: User,
    method: str,
    encoded_path: str,
    body: Any = None,
    *,
    data: bytes | None = None,
    params: dict[str, str] | None = None,
) -> Response:
    """A request whose path is sent exactly as given (aiohttp would decode %21 and the
    like), under /_matrix/client/v3."""
    url = yarl.URL(user.client.base_url + V3 + encoded_path, encoded=True)
    if params:
        url = url.update_query(params)
    if data is None and body is not None:
        data = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {user.token}", "Content-Type": "application/json"}
    async with user.client.session.request(method, url, data=data, headers=headers) as reply:
        text = await reply.text()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Response(reply.status, parsed, reply.headers)


def enc(rule_id: str) -> str:
    return quote(rule_id, safe="")


async def put(user: User, kind: str, rule_id: str, body: Any, **params: str) -> Response:
    return await raw(user, "PUT", f"/pushrules/global/{kind}/{enc(rule_id)}", body, params=params)


async def ok_put(user: User, kind: str, rule_id: str, body: Any, **params: str) -> None:
    reply = await put(user, kind, rule_id, body, **params)
    assert reply.status == 200, reply.body
    assert reply.body == {}


async def get_all(user: User) -> dict[str, Any]:
    reply = await user.call("GET", "/pushrules/")
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def ids_of(user: User, kind: str) -> list[str]:
    return [rule["rule_id"] for rule in (await get_all(user))["global"][kind]]


async def user_ids_of(user: User, kind: str) -> list[str]:
    return [i for i in await ids_of(user, kind) if not i.startswith(".")]


async def sync(user: User, **params: Any) -> dict[str, Any]:
    reply = await user.call("GET", "/sync", params={k: str(v) for k, v in params.items()})
    assert reply.status == 200, reply.body
    return dict(reply.body)


def push_rules_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in body["account_data"]["events"] if e["type"] == "m.push_rules"]


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[Homeserver]:
    """These tests read the exact v1.19 defaults; the legacy mention rules that a server
    keeps by default are checked on their own below."""
    homeserver = await start_server(
        make_config(database_url, tmp_path, push={"legacy_mention_rules": False})
    )
    yield homeserver
    await homeserver.stop()


# -- reading the defaults -------------------------------------------------------------------


async def test_the_legacy_mention_rules_are_kept_by_default_where_synapse_has_them(
    database_url: str, tmp_path: Path
) -> None:
    homeserver = await start_server(make_config(database_url, tmp_path))
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{homeserver.port}")
            alice = await User.register(client, "alice")
            rules = (await get_all(alice))["global"]
    finally:
        await homeserver.stop()
    override = [r["rule_id"] for r in rules["override"]]
    assert override == [
        *DEFAULT_OVERRIDE[:5],
        ".m.rule.contains_display_name",
        ".m.rule.is_room_mention",
        ".m.rule.roomnotif",
        *DEFAULT_OVERRIDE[6:],
    ]
    [user_name] = rules["content"]
    assert user_name["rule_id"] == ".m.rule.contains_user_name"
    assert user_name["pattern"] == "alice"


async def test_every_default_rule_in_order_with_the_users_id(client: Client) -> None:
    alice = await User.register(client, "alice")
    body = await get_all(alice)
    assert list(body) == ["global"]
    rules = body["global"]
    assert sorted(rules) == sorted(KINDS)
    assert [r["rule_id"] for r in rules["override"]] == DEFAULT_OVERRIDE
    assert [r["rule_id"] for r in rules["underride"]] == DEFAULT_UNDERRIDE
    assert rules["content"] == rules["room"] == rules["sender"] == []
    for kind in ("override", "underride"):
        for rule in rules[kind]:
            assert rule["default"] is True
            assert isinstance(rule["enabled"], bool) and isinstance(rule["actions"], list)
            assert isinstance(rule["conditions"], list)
    by_id = {r["rule_id"]: r for r in rules["override"]}
    master = by_id[".m.rule.master"]
    assert master == {
        "rule_id": ".m.rule.master",
        "default": True,
        "enabled": False,
        "conditions": [],
        "actions": [],
    }
    invite = by_id[".m.rule.invite_for_me"]["conditions"]
    assert {"kind": "event_match", "key": "state_key", "pattern": alice.user_id} in invite
    mention = by_id[".m.rule.is_user_mention"]["conditions"]
    assert mention == [
        {
            "kind": "event_property_contains",
            "key": "content.m\\.mentions.user_ids",
            "value": alice.user_id,
        }
    ]
    # The same rules from the narrower paths.
    scope = await alice.call("GET", "/pushrules/global/")
    assert scope.status == 200 and scope.body == rules
    kind = await alice.call("GET", "/pushrules/global/underride/")
    assert kind.status == 200 and kind.body == rules["underride"]
    one = await alice.call("GET", "/pushrules/global/override/.m.rule.invite_for_me")
    assert one.status == 200 and one.body == by_id[".m.rule.invite_for_me"]
    # r0 is served too.
    old = await client.request("GET", "/_matrix/client/r0/pushrules/", token=alice.token)
    assert old.status == 200 and old.body == body


# -- the user's own rules -------------------------------------------------------------------


RULES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # kind, rule ID, body, what the rule shows besides rule_id/default/enabled/actions
    ("override", "no-notices", {"conditions": [NOTICE]}, {"conditions": [NOTICE]}),
    ("content", "cake", {"pattern": "cake*lie"}, {"pattern": "cake*lie"}),
    ("room", "!room:test.local", {}, {}),
    ("sender", "@bob:test.local", {}, {}),
    ("underride", "everything", {"conditions": []}, {"conditions": []}),
]


@pytest.mark.parametrize(("kind", "rule_id", "body", "shown"), RULES)
async def test_put_get_delete_each_kind(
    client: Client, kind: str, rule_id: str, body: dict[str, Any], shown: dict[str, Any]
) -> None:
    alice = await User.register(client, "alice")
    actions = ["notify", {"set_tweak": "sound", "value": "default"}]
    await ok_put(alice, kind, rule_id, {**body, "actions": actions})
    expected = {"rule_id": rule_id, "default": False, "enabled": True, "actions": actions, **shown}
    got = await raw(alice, "GET", f"/pushrules/global/{kind}/{enc(rule_id)}")
    assert got.status == 200 and got.body == expected
    # First of the user's rules of its kind; only .m.rule.master goes before them.
    listed = (await get_all(alice))["global"][kind]
    first = 1 if kind == "override" else 0
    assert listed[first] == expected
    deleted = await raw(alice, "DELETE", f"/pushrules/global/{kind}/{enc(rule_id)}")
    assert deleted.status == 200 and deleted.body == {}
    gone = await raw(alice, "GET", f"/pushrules/global/{kind}/{enc(rule_id)}")
    assert (gone.status, gone.errcode) == (404, "M_NOT_FOUND")
    again = await raw(alice, "DELETE", f"/pushrules/global/{kind}/{enc(rule_id)}")
    assert (again.status, again.errcode) == (404, "M_NOT_FOUND")
    assert await user_ids_of(alice, kind) == []


async def test_rules_are_per_kind_and_per_user(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    await ok_put(alice, "override", "same", {"conditions": [], "actions": []})
    await ok_put(alice, "underride", "same", {"conditions": [NOTICE], "actions": ["notify"]})
    over = await alice.call("GET", "/pushrules/global/override/same")
    under = await alice.call("GET", "/pushrules/global/underride/same")
    assert over.body["conditions"] == [] and under.body["conditions"] == [NOTICE]
    assert (await alice.call("DELETE", "/pushrules/global/override/same")).status == 200
    assert (await alice.call("GET", "/pushrules/global/underride/same")).status == 200
    assert (await bob.call("GET", "/pushrules/global/underride/same")).status == 404


async def test_before_and_after(client: Client) -> None:
    alice = await User.register(client, "alice")
    rule = {"actions": ["notify"]}
    await ok_put(alice, "room", "!a:x", rule)
    await ok_put(alice, "room", "!b:x", rule)
    # New rules go first.
    assert await ids_of(alice, "room") == ["!b:x", "!a:x"]
    await ok_put(alice, "room", "!c:x", rule, after="!a:x")
    assert await ids_of(alice, "room") == ["!b:x", "!a:x", "!c:x"]
    await ok_put(alice, "room", "!d:x", rule, before="!a:x")
    assert await ids_of(alice, "room") == ["!b:x", "!d:x", "!a:x", "!c:x"]
    await ok_put(alice, "room", "!e:x", rule, after="!c:x")
    assert await ids_of(alice, "room") == ["!b:x", "!d:x", "!a:x", "!c:x", "!e:x"]
    # With both, `before` decides (spec).
    await ok_put(alice, "room", "!f:x", rule, before="!d:x", after="!e:x")
    assert await ids_of(alice, "room") == ["!b:x", "!f:x", "!d:x", "!a:x", "!c:x", "!e:x"]
    # An existing rule moves: relative to another, or first without before/after
    # (as Synapse), keeping whether it is enabled.
    await ok_put(alice, "room", "!b:x", rule, after="!e:x")
    assert await ids_of(alice, "room") == ["!f:x", "!d:x", "!a:x", "!c:x", "!e:x", "!b:x"]
    disabled = await alice.call("PUT", "/pushrules/global/room/!c:x/enabled", {"enabled": False})
    assert disabled.status == 200
    await ok_put(alice, "room", "!c:x", {"actions": ["dont_notify"]})
    assert await ids_of(alice, "room") == ["!c:x", "!f:x", "!d:x", "!a:x", "!e:x", "!b:x"]
    moved = await alice.call("GET", "/pushrules/global/room/!c:x")
    assert moved.body["enabled"] is False and moved.body["actions"] == ["dont_notify"]
    # Relative to itself: stays where it is.
    await ok_put(alice, "room", "!a:x", rule, before="!a:x")
    assert await ids_of(alice, "room") == ["!c:x", "!f:x", "!d:x", "!a:x", "!e:x", "!b:x"]
    # An empty before/after is none.
    await ok_put(alice, "room", "!g:x", rule, before="", after="")
    assert (await ids_of(alice, "room"))[0] == "!g:x"
    # Override rules go after .m.rule.master and before the other defaults.
    await ok_put(alice, "override", "one", {"conditions": [], "actions": []})
    await ok_put(alice, "override", "two", {"conditions": [], "actions": []}, after="one")
    overrides = await ids_of(alice, "override")
    assert overrides == [".m.rule.master", "one", "two", *DEFAULT_OVERRIDE[1:]]


async def test_enabled_and_actions_of_default_and_own_rules(client: Client) -> None:
    alice = await User.register(client, "alice")
    base = "/pushrules/global/override/.m.rule.master"
    assert (await alice.call("GET", base + "/enabled")).body == {"enabled": False}
    assert (await alice.call("GET", base + "/actions")).body == {"actions": []}
    assert (await alice.call("PUT", base + "/enabled", {"enabled": True})).status == 200
    assert (await alice.call("GET", base + "/enabled")).body == {"enabled": True}
    assert (await alice.call("GET", base)).body["enabled"] is True

    message = "/pushrules/global/underride/.m.rule.message"
    tweak = {"set_tweak": "sound", "value": "ping"}
    assert (await alice.call("PUT", message + "/actions", {"actions": ["notify", tweak]})).status
    assert (await alice.call("GET", message + "/actions")).body == {"actions": ["notify", tweak]}
    assert (await alice.call("PUT", message + "/enabled", {"enabled": False})).status == 200
    # Each attribute is changed alone.
    got = (await alice.call("GET", message)).body
    assert got["enabled"] is False and got["actions"] == ["notify", tweak] and got["default"]
    # The order of the defaults does not change.
    assert await ids_of(alice, "override") == DEFAULT_OVERRIDE
    assert await ids_of(alice, "underride") == DEFAULT_UNDERRIDE

    await ok_put(alice, "sender", "@bob:test.local", {"actions": ["notify"]})
    sender = "/pushrules/global/sender/@bob:test.local"
    assert (await alice.call("PUT", sender + "/actions", {"actions": []})).status == 200
    assert (await alice.call("PUT", sender + "/enabled", {"enabled": False})).status == 200
    assert (await alice.call("GET", sender)).body == {
        "rule_id": "@bob:test.local",
        "default": False,
        "enabled": False,
        "actions": [],
    }
    assert (await alice.call("GET", sender + "/enabled")).body == {"enabled": False}
    assert (await alice.call("GET", sender + "/actions")).body == {"actions": []}
    # Another user sees the defaults untouched.
    bob = await User.register(client, "bob")
    assert (await bob.call("GET", base + "/enabled")).body == {"enabled": False}
    assert (await bob.call("GET", message + "/actions")).body["actions"] == ["notify"]


async def test_every_default_rule_can_be_toggled_and_given_actions(client: Client) -> None:
    alice = await User.register(client, "alice")
    rules = (await get_all(alice))["global"]
    for kind, listed in rules.items():
        for rule in listed:
            path = f"/pushrules/global/{kind}/{rule['rule_id']}"
            for enabled in (False, True):
                put_reply = await alice.call("PUT", path + "/enabled", {"enabled": enabled})
                assert put_reply.status == 200, (path, put_reply.body)
                assert (await alice.call("GET", path + "/enabled")).body == {"enabled": enabled}
            assert (await alice.call("PUT", path + "/actions", {"actions": ["dont_notify"]})).status
            got = await alice.call("GET", path + "/actions")
            assert got.body == {"actions": ["dont_notify"]}


# -- errors -----------------------------------------------------------------------------------

ERRORS: list[tuple[str, str, Any, dict[str, str], int, str]] = [
    # The scope: only "global" (400 M_UNRECOGNIZED as Synapse; SyTest checks the 400).
    ("GET", "/pushrules/not_a_scope/", None, {}, 400, "M_UNRECOGNIZED"),
    ("GET", "/pushrules/device/override/x", None, {}, 400, "M_UNRECOGNIZED"),
    ("PUT", "/pushrules/not_a_scope/room/%21a%3Ax", {"actions": []}, {}, 400, "M_UNRECOGNIZED"),
    ("DELETE", "/pushrules/device/room/%21a%3Ax", None, {}, 400, "M_UNRECOGNIZED"),
    # Paths missing a part or a trailing slash (as Synapse; SyTest checks them).
    ("GET", "/pushrules", None, {}, 404, "M_UNRECOGNIZED"),
    ("GET", G, None, {}, 400, "M_UNRECOGNIZED"),
    ("GET", G + "/room", None, {}, 400, "M_UNRECOGNIZED"),
    ("PUT", "/pushrules/", {"actions": []}, {}, 400, "M_UNRECOGNIZED"),
    ("PUT", G, {"actions": []}, {}, 400, "M_UNRECOGNIZED"),
    ("PUT", G + "/room", {"actions": []}, {}, 400, "M_UNRECOGNIZED"),
    ("PUT", G + "/room/", {"actions": []}, {}, 400, "M_UNRECOGNIZED"),
    ("DELETE", G + "/room/", None, {}, 400, "M_UNRECOGNIZED"),
    # Unknown attributes of a rule.
    ("GET", G + "/override/.m.rule.master/nope", None, {}, 400, "M_UNRECOGNIZED"),
    ("PUT", G + "/override/.m.rule.master/nope", {}, {}, 400, "M_UNRECOGNIZED"),
    # Unknown kinds.
    ("GET", G + "/not_a_kind/", None, {}, 400, "M_INVALID_PARAM"),
    ("GET", G + "/not_a_kind/x", None, {}, 400, "M_INVALID_PARAM"),
    ("PUT", G + "/not_a_kind/x", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
    ("PUT", G + "/postcontent/x", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
    ("DELETE", G + "/not_a_kind/x", None, {}, 400, "M_INVALID_PARAM"),
    ("PUT", G + "/not_a_kind/x/enabled", {"enabled": True}, {}, 400, "M_INVALID_PARAM"),
    # Rules that do not exist.
    ("GET", G + "/override/not_a_rule", None, {}, 404, "M_NOT_FOUND"),
    ("GET", G + "/underride/.m.rule.master", None, {}, 404, "M_NOT_FOUND"),
    ("GET", G + "/room/%21a%3Ax/enabled", None, {}, 404, "M_NOT_FOUND"),
    ("GET", G + "/room/%21a%3Ax/actions", None, {}, 404, "M_NOT_FOUND"),
    ("DELETE", G + "/room/%21a%3Ax", None, {}, 404, "M_NOT_FOUND"),
    ("PUT", G + "/room/%21a%3Ax/enabled", {"enabled": True}, {}, 404, "M_NOT_FOUND"),
    ("PUT", G + "/room/%21a%3Ax/actions", {"actions": []}, {}, 404, "M_NOT_FOUND"),
    ("PUT", G + "/override/.not.a.rule/enabled", {"enabled": True}, {}, 404, "M_NOT_FOUND"),
    ("PUT", G + "/override/.not.a.rule/actions", {"actions": []}, {}, 404, "M_NOT_FOUND"),
    ("PUT", G + "/underride/.m.rule.master/actions", {"actions": []}, {}, 404, "M_NOT_FOUND"),
    # Server-default rules: no PUT of the rule itself, no delete.
    (
        "PUT",
        G + "/override/.m.rule.master",
        {"conditions": [], "actions": []},
        {},
        400,
        "M_INVALID_PARAM",
    ),
    ("PUT", G + "/override/.mine", {"conditions": [], "actions": []}, {}, 400, "M_INVALID_PARAM"),
    ("DELETE", G + "/override/.m.rule.master", None, {}, 400, "M_INVALID_PARAM"),
    ("DELETE", G + "/underride/.m.rule.message", None, {}, 400, "M_INVALID_PARAM"),
    # before/after: a missing rule (400 as in the spec's example), a default rule.
    ("PUT", G + "/room/%21a%3Ax", {"actions": []}, {"before": "!nope:x"}, 400, "M_UNKNOWN"),
    ("PUT", G + "/room/%21a%3Ax", {"actions": []}, {"after": "!nope:x"}, 400, "M_UNKNOWN"),
    ("PUT", G + "/room/%21a%3Ax", {"actions": []}, {"before": "!a:x"}, 400, "M_UNKNOWN"),
    (
        "PUT",
        G + "/override/x",
        {"conditions": [], "actions": []},
        {"before": ".m.rule.master"},
        400,
        "M_INVALID_PARAM",
    ),
    (
        "PUT",
        G + "/underride/x",
        {"conditions": [], "actions": []},
        {"after": ".m.rule.message"},
        400,
        "M_INVALID_PARAM",
    ),
    # Rule IDs with a slash or backslash.
    ("PUT", G + "/content/a%2Fb", {"pattern": "x", "actions": []}, {}, 400, "M_INVALID_PARAM"),
    ("PUT", G + "/content/a%5Cb", {"pattern": "x", "actions": []}, {}, 400, "M_INVALID_PARAM"),
    # Bodies SyTest tries (each 400).
    ("PUT", G + "/override/x", {"actions": []}, {}, 400, "M_MISSING_PARAM"),
    ("PUT", G + "/underride/x", {"actions": []}, {}, 400, "M_MISSING_PARAM"),
    ("PUT", G + "/underride/x", {"conditions": [{}], "actions": []}, {}, 400, "M_INVALID_PARAM"),
    ("PUT", G + "/content/x", {"actions": []}, {}, 400, "M_MISSING_PARAM"),
    ("PUT", G + "/room/%21a%3Ax", {}, {}, 400, "M_MISSING_PARAM"),
    ("PUT", G + "/room/%21a%3Ax", {"actions": ["not_an_action"]}, {}, 400, "M_INVALID_PARAM"),
    (
        "PUT",
        G + "/override/.m.rule.master/enabled",
        {"enabled": "not a boolean"},
        {},
        400,
        "M_BAD_JSON",
    ),
    ("PUT", G + "/override/.m.rule.master/enabled", {}, {}, 400, "M_MISSING_PARAM"),
    ("PUT", G + "/override/.m.rule.master/actions", {"actions": "notify"}, {}, 400, "M_BAD_JSON"),
    (
        "PUT",
        G + "/override/.m.rule.master/actions",
        {"actions": ["nope"]},
        {},
        400,
        "M_INVALID_PARAM",
    ),
    (
        "PUT",
        G + "/override/.m.rule.master/actions",
        {"actions": [{"value": 1}]},
        {},
        400,
        "M_INVALID_PARAM",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "params", "status", "errcode"), ERRORS)
async def test_errors(
    client: Client,
    method: str,
    path: str,
    body: Any,
    params: dict[str, str],
    status: int,
    errcode: str,
) -> None:
    alice = await User.register(client, "alice")
    reply = await raw(alice, method, path, body, params=params)
    assert (reply.status, reply.errcode) == (status, errcode), reply.body
    # Nothing was created on the way.
    for kind in KINDS:
        assert await user_ids_of(alice, kind) == []


async def test_bad_json_and_auth(client: Client) -> None:
    alice = await User.register(client, "alice")
    path = G + "/room/%21a%3Ax"
    not_json = await raw(alice, "PUT", path, data=b"{not json")
    assert (not_json.status, not_json.errcode) == (400, "M_NOT_JSON")
    array = await raw(alice, "PUT", path, data=b'["notify"]')
    assert (array.status, array.errcode) == (400, "M_BAD_JSON")
    bare = await raw(alice, "PUT", path + "/enabled", data=b"true")
    assert (bare.status, bare.errcode) == (400, "M_BAD_JSON")
    anonymous = await client.request("GET", V3 + "/pushrules/")
    assert (anonymous.status, anonymous.errcode) == (401, "M_MISSING_TOKEN")
    anonymous_put = await client.request("PUT", V3 + G + "/room/!a:x", {})
    assert (anonymous_put.status, anonymous_put.errcode) == (401, "M_MISSING_TOKEN")


async def test_hostile_input_gets_matrix_errors(client: Client) -> None:
    alice = await User.register(client, "alice")
    many = {"conditions": [NOTICE] * 10_000, "actions": ["notify"]}
    huge = {"pattern": "x" * 200_000, "actions": ["notify"]}
    cases: list[tuple[str, str, Any, bytes | None]] = [
        ("PUT", G + "/override/many", many, None),
        ("PUT", G + "/content/huge", huge, None),
        ("PUT", G + "/content/" + "x" * 5_000, {"pattern": "x", "actions": []}, None),
        ("PUT", G + "/content/nul%00", {"pattern": "x", "actions": []}, None),
        ("PUT", G + "/content/nul", {"pattern": "a\u0000b", "actions": []}, None),
        ("PUT", G + "/override/nul", {"conditions": [{"kind": "x\u0000"}], "actions": []}, None),
        ("PUT", G + "/room/%21a%3Ax", {"actions": [{"set_tweak": "a\u0000"}]}, None),
        (
            "PUT",
            G + "/override/.m.rule.master/actions",
            {"actions": [{"set_tweak": "s", "value": "\u0000"}]},
            None,
        ),
        ("PUT", G + "/content/t", {"pattern": 5, "actions": []}, None),
        ("PUT", G + "/content/t", {"pattern": None, "actions": []}, None),
        ("PUT", G + "/override/t", {"conditions": {"kind": "x"}, "actions": []}, None),
        ("PUT", G + "/override/t", {"conditions": ["x"], "actions": []}, None),
        ("PUT", G + "/override/t", {"conditions": [], "actions": None}, None),
        ("PUT", G + "/override/t", {"conditions": [], "actions": [["notify"]]}, None),
        (
            "PUT",
            G + "/override/t",
            {"conditions": [{"kind": "event_match", "key": 1, "pattern": "x"}], "actions": []},
            None,
        ),
        (
            "PUT",
            G + "/override/t",
            {"conditions": [{"kind": "room_member_count", "is": "lots"}], "actions": []},
            None,
        ),
        (
            "PUT",
            G + "/override/t",
            {
                "conditions": [{"kind": "event_property_is", "key": "a", "value": 2**60}],
                "actions": [],
            },
            None,
        ),
        (
            "PUT",
            G + "/override/t",
            {
                "conditions": [{"kind": "event_property_is", "key": "a", "value": 1.5}],
                "actions": [],
            },
            None,
        ),
        ("PUT", G + "/override/t", None, b'{"conditions": [], "actions": [NaN]}'),
        ("PUT", G + "/override/t", None, b"[" * 100_000),
        ("PUT", G + "/override/t", None, b"\xff\xfe"),
        ("PUT", G + "/room/%21a%3Ax/enabled", {"enabled": 1}, None),
        ("PUT", G + "/room/%21a%3Ax/enabled", {"enabled": None}, None),
        ("PUT", G + "/override/.m.rule.master/actions", {"actions": {"a": 1}}, None),
        ("PUT", G + "/override/.m.rule.master/actions", {"actions": ["notify"] * 10_000}, None),
        ("GET", G + "/content/" + "%00" * 10, None, None),
        ("DELETE", G + "/content/%00", None, None),
        ("PUT", G + "/content/%00/enabled", {"enabled": True}, None),
        ("PUT", G + "/room/%21a%3Ax", {"actions": []}, None),  # fine: a control
    ]
    for method, path, body, data in cases[:-1]:
        reply = await raw(alice, method, path, body, data=data)
        assert 400 <= reply.status < 500, (path, body, reply.status, reply.body)
        assert isinstance(reply.errcode, str) and reply.errcode.startswith("M_"), reply.body
    body = {"pattern": "p", "actions": []}
    for params in ({"before": "\u0000"}, {"after": "x" * 5_000}):
        relative = await raw(alice, "PUT", G + "/content/p", body, params=params)
        assert (relative.status, relative.errcode) == (400, "M_UNKNOWN"), relative.body
    method, path, body, _ = cases[-1]
    assert (await raw(alice, method, path, body)).status == 200
    assert await user_ids_of(alice, "content") == []
    assert await user_ids_of(alice, "override") == []


async def test_a_user_has_at_most_so_many_rules(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push_rules_module, "MAX_OWN_RULES", 3)
    alice = await User.register(client, "alice")
    await ok_put(alice, "room", "!a:x", {"actions": []})
    await ok_put(alice, "sender", "@b:x", {"actions": []})
    await ok_put(alice, "content", "c", {"pattern": "c", "actions": []})
    refused = await put(alice, "content", "d", {"pattern": "d", "actions": []})
    assert (refused.status, refused.errcode) == (400, "M_LIMIT_EXCEEDED")
    # Replacing a rule is not adding one.
    await ok_put(alice, "content", "c", {"pattern": "cc", "actions": []})
    assert (await raw(alice, "DELETE", "/pushrules/global/room/%21a%3Ax")).status == 200
    await ok_put(alice, "content", "d", {"pattern": "d", "actions": []})


# -- URL-encoded rule IDs ---------------------------------------------------------------------


async def test_percent_encoded_rule_ids(client: Client) -> None:
    alice = await User.register(client, "alice")
    for kind, rule_id, body in [
        ("room", "!abc:example.org", {}),
        ("sender", "@spam.bot+1:example.org", {}),
        ("content", "Käse & cake? #1 %20 💥", {"pattern": "cake"}),
        ("override", "a{b}c", {"conditions": []}),
    ]:
        encoded = quote(rule_id, safe="")
        assert "%" in encoded
        path = f"/pushrules/global/{kind}/{encoded}"
        created = await raw(alice, "PUT", path, {**body, "actions": ["notify"]})
        assert created.status == 200, (rule_id, created.body)
        got = await raw(alice, "GET", path)
        assert got.status == 200 and got.body["rule_id"] == rule_id
        assert rule_id in await ids_of(alice, kind)
        toggled = await raw(alice, "PUT", path + "/enabled", {"enabled": False})
        assert toggled.status == 200
        assert (await raw(alice, "GET", path + "/enabled")).body == {"enabled": False}
        acted = await raw(alice, "PUT", path + "/actions", {"actions": []})
        assert acted.status == 200
        assert (await raw(alice, "GET", path + "/actions")).body == {"actions": []}
    # before/after name rules as they are (the query string decoded).
    after = "Käse & cake? #1 %20 💥"
    await ok_put(alice, "content", "second", {"pattern": "x", "actions": []}, after=after)
    assert await ids_of(alice, "content") == [after, "second"]
    # The same room rule by its plain and its encoded path.
    plain = await alice.call("GET", "/pushrules/global/room/!abc:example.org")
    assert plain.status == 200 and plain.body["rule_id"] == "!abc:example.org"
    deleted = await raw(alice, "DELETE", "/pushrules/global/room/%21abc%3Aexample.org")
    assert deleted.status == 200
    assert await ids_of(alice, "room") == []


# -- m.push_rules in /sync and account data ---------------------------------------------------


async def test_push_rules_in_initial_and_incremental_sync(client: Client) -> None:
    alice = await User.register(client, "alice")
    first = await sync(alice)
    [event] = push_rules_in(first)
    assert event["content"] == await get_all(alice)
    # Nothing changed: not sent again.
    quiet = await sync(alice, since=first["next_batch"], timeout=0)
    assert push_rules_in(quiet) == []
    await ok_put(alice, "room", "!muted:x", {"actions": []})
    changed = await sync(alice, since=quiet["next_batch"], timeout=0)
    [event] = push_rules_in(changed)
    assert event["content"]["global"]["room"][0]["rule_id"] == "!muted:x"
    assert push_rules_in(await sync(alice, since=changed["next_batch"], timeout=0)) == []
    # Each kind of change wakes a waiting sync with the new rules.
    changes = [
        ("PUT", "/pushrules/global/room/!muted:x/enabled", {"enabled": False}),
        ("PUT", "/pushrules/global/room/!muted:x/actions", {"actions": ["notify"]}),
        ("PUT", "/pushrules/global/override/.m.rule.master/enabled", {"enabled": True}),
        ("PUT", "/pushrules/global/underride/.m.rule.message/actions", {"actions": []}),
        ("DELETE", "/pushrules/global/room/!muted:x", None),
    ]
    since = changed["next_batch"]
    for method, path, body in changes:
        started = time.monotonic()
        waiting = asyncio.create_task(sync(alice, since=since, timeout=10_000))
        await asyncio.sleep(0.2)
        assert (await alice.call(method, path, body)).status == 200
        woken = await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - started < 5
        [event] = push_rules_in(woken)
        assert event["content"] == await get_all(alice)
        since = woken["next_batch"]
    # Another user's change wakes nobody else.
    bob = await User.register(client, "bob")
    await ok_put(bob, "room", "!x:x", {"actions": []})
    assert push_rules_in(await sync(alice, since=since, timeout=0)) == []


async def test_account_data_filter_and_endpoint(client: Client) -> None:
    alice = await User.register(client, "alice")
    no_rules = json.dumps({"account_data": {"not_types": ["m.push_rules"]}})
    filtered = await sync(alice, filter=no_rules)
    assert push_rules_in(filtered) == []
    await ok_put(alice, "room", "!muted:x", {"actions": []})
    assert push_rules_in(await sync(alice, since=filtered["next_batch"], filter=no_rules)) == []
    # As in Synapse, GET of the m.push_rules account data answers the rules; PUT is refused.
    path = f"/user/{alice.user_id}/account_data/m.push_rules"
    got = await alice.call("GET", path)
    assert got.status == 200 and got.body == await get_all(alice)
    refused = await alice.call("PUT", path, {"global": {}})
    assert refused.status == 405
    bob = await User.register(client, "bob")
    other = await bob.call("GET", path)
    assert other.status == 403


# -- storage and the cache --------------------------------------------------------------------


async def test_changes_to_defaults_are_stored_apart_so_new_defaults_reach_users(
    client: Client, server: Homeserver
) -> None:
    alice = await User.register(client, "alice")
    message = "/pushrules/global/underride/.m.rule.message"
    assert (await alice.call("PUT", message + "/actions", {"actions": ["dont_notify"]})).status
    assert (await alice.call("PUT", message + "/enabled", {"enabled": False})).status == 200
    service = server.services.push_rules
    stored = await service.stores.push_rules.for_user(alice.user_id)
    assert stored.own == {}
    [(rule_id, change)] = stored.default_changes.items()
    assert rule_id == ".m.rule.message"
    assert (change.enabled, change.actions) == (False, ["dont_notify"])
    # A later release adds a default rule: the user has it, with their change kept.
    new_rule = PushRule(
        RuleKind.UNDERRIDE, ".m.rule.new", True, True, ("notify",), (EventMatch("type", "x"),)
    )
    newer = DefaultRules(
        master=DEFAULT_RULES.master,
        override=DEFAULT_RULES.override,
        content=DEFAULT_RULES.content,
        underride=(*DEFAULT_RULES.underride, new_rule),
    )
    upgraded = PushRuleService(service.stores, service.writer, defaults=newer)
    rules = (await upgraded.get_all(alice.user_id))["global"]["underride"]
    assert [r["rule_id"] for r in rules] == [*DEFAULT_UNDERRIDE, ".m.rule.new"]
    by_id = {r["rule_id"]: r for r in rules}
    assert by_id[".m.rule.message"]["enabled"] is False
    assert by_id[".m.rule.message"]["actions"] == ["dont_notify"]
    assert by_id[".m.rule.new"]["enabled"] is True


async def test_rule_sets_are_cached_shared_and_invalidated(
    client: Client, server: Homeserver
) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    service = server.services.push_rules
    sets = await service.rulesets([alice.user_id, bob.user_id, "@nobody:test.local"])
    # Nobody customised anything: one shared object.
    shared = uncustomised(service.defaults)
    assert all(ruleset is shared for ruleset in sets.values())
    await ok_put(alice, "room", "!a:x", {"actions": []})
    # Right after the write (no wait for the stream) the new set is seen.
    after = await service.rulesets([alice.user_id, bob.user_id])
    assert after[alice.user_id] is not shared and after[bob.user_id] is shared
    assert after[alice.user_id].find(RuleKind.ROOM, "!a:x") is not None
    assert await service.ruleset(alice.user_id) is after[alice.user_id]
    assert (await alice.call("DELETE", "/pushrules/global/room/!a:x")).status == 200
    assert (await service.ruleset(alice.user_id)).find(RuleKind.ROOM, "!a:x") is None
    # The stream moved once per change, for alice only.
    assert await service.changed_since(alice.user_id, 0)
    assert not await service.changed_since(bob.user_id, 0)
    position = await service.stores.push_rules.position(alice.user_id)
    assert position == await service.stores.push_rules.max_position()
    assert not await service.changed_since(alice.user_id, position)


# -- room upgrades ----------------------------------------------------------------------------


async def test_room_upgrade_copies_room_rules(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    carol = await User.register(client, "carol")
    old = await alice.create_room(preset="public_chat")
    assert (await bob.join(old)).status == 200
    room_condition = {"kind": "event_match", "key": "room_id", "pattern": old}
    # bob mutes the room two ways (a room rule; an override rule as Element makes them),
    # and has a disabled rule for it and rules for other things.
    await ok_put(bob, "room", old, {"actions": ["dont_notify"]})
    await ok_put(bob, "override", old, {"conditions": [room_condition], "actions": []})
    await ok_put(
        bob,
        "override",
        "keyword-here",
        {"conditions": [room_condition, NOTICE], "actions": ["notify"]},
    )
    await ok_put(bob, "underride", "off", {"conditions": [room_condition], "actions": []})
    assert (await put(bob, "underride", "off", {})).status == 400
    disabled = await bob.call("PUT", "/pushrules/global/underride/off/enabled", {"enabled": False})
    assert disabled.status == 200
    await ok_put(bob, "room", "!elsewhere:x", {"actions": []})
    # carol was never in the room: her rule for it stays alone.
    await ok_put(carol, "room", old, {"actions": []})

    upgraded = await alice.call("POST", f"/rooms/{old}/upgrade", {"new_version": "11"})
    assert upgraded.status == 200, upgraded.body
    new = upgraded.body["replacement_room"]

    rules = (await get_all(bob))["global"]
    assert [r["rule_id"] for r in rules["room"]] == [new, "!elsewhere:x", old]
    assert rules["room"][0]["actions"] == ["dont_notify"]
    overrides = {r["rule_id"]: r for r in rules["override"]}
    new_room_condition = {**room_condition, "pattern": new}
    assert overrides[new]["conditions"] == [new_room_condition]
    assert overrides[old]["conditions"] == [room_condition]
    # A rule whose ID does not name the room is copied under the new room's ID (Synapse);
    # the mute rule already took that ID, so it stays alone.
    assert "keyword-here" in overrides
    assert [r["rule_id"] for r in rules["underride"] if not r["default"]] == ["off"]
    assert await user_ids_of(carol, "room") == [old]
    # The upgrader had no rules for the room: nothing copied.
    assert await user_ids_of(alice, "room") == []
