"""Registration, login, logout, refresh, whoami, devices, password and deactivation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.api.harness import PASSWORD, Client, make_config, start_server
from tests.api.rooms_helpers import User

V3 = "/_matrix/client/v3"


@pytest.fixture
async def configured(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """Start a server with extra config sections: `async with configured(**sections)`."""
    servers = []
    sessions = []

    async def start(**sections: dict[str, Any]) -> Client:
        server = await start_server(make_config(database_url, tmp_path, **sections))
        servers.append(server)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Client(session, f"http://127.0.0.1:{server.port}")

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.stop()


# --- registration -------------------------------------------------------------------


async def test_register_flows_and_completion(client: Client) -> None:
    first = await client.request(
        "POST", V3 + "/register", {"username": "alice", "password": PASSWORD}
    )
    assert first.status == 401
    assert first.body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert isinstance(first.body["session"], str) and "params" in first.body
    done = await client.request(
        "POST",
        V3 + "/register",
        {
            "username": "alice",
            "password": PASSWORD,
            "device_id": "MYDEVICE",
            "initial_device_display_name": "Phone",
            "auth": {"type": "m.login.dummy", "session": first.body["session"]},
        },
    )
    assert done.status == 200
    assert done.body["user_id"] == "@alice:test.local"
    assert done.body["device_id"] == "MYDEVICE"
    devices = await client.request("GET", V3 + "/devices", token=done.body["access_token"])
    assert devices.body["devices"][0]["display_name"] == "Phone"
    # Retrying the completed session logs into the account it made.
    retry = await client.request(
        "POST",
        V3 + "/register",
        {
            "username": "alice",
            "password": PASSWORD,
            "auth": {"type": "m.login.dummy", "session": first.body["session"]},
        },
    )
    assert retry.status == 200 and retry.body["user_id"] == "@alice:test.local"


async def test_dummy_auth_without_session(client: Client) -> None:
    done = await client.request(
        "POST",
        V3 + "/register",
        {"username": "bob", "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
    )
    assert done.status == 200


@pytest.mark.parametrize(
    ("username", "errcode"),
    [
        ("has!bang", "M_INVALID_USERNAME"),
        ("_underscore", "M_INVALID_USERNAME"),
        ("x" * 300, "M_INVALID_USERNAME"),
        ("é", "M_INVALID_USERNAME"),
    ],
)
async def test_invalid_usernames(client: Client, username: str, errcode: str) -> None:
    response = await client.request(
        "POST", V3 + "/register", {"username": username, "password": PASSWORD}
    )
    assert (response.status, response.errcode) == (400, errcode)


async def test_username_taken_and_lowercased(client: Client) -> None:
    registered = await client.register("MixedCase")
    assert registered["user_id"] == "@mixedcase:test.local"
    taken = await client.request(
        "POST", V3 + "/register", {"username": "mixedcase", "password": PASSWORD}
    )
    assert (taken.status, taken.errcode) == (400, "M_USER_IN_USE")
    available = await client.request(
        "GET", V3 + "/register/available", params={"username": "MIXEDCASE"}
    )
    assert available.errcode == "M_USER_IN_USE"
    free = await client.request("GET", V3 + "/register/available", params={"username": "free"})
    assert free.body == {"available": True}
    missing = await client.request("GET", V3 + "/register/available")
    assert missing.errcode == "M_MISSING_PARAM"


async def test_generated_username_inhibit_login_and_refresh(client: Client) -> None:
    generated = await client.request(
        "POST", V3 + "/register", {"password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    )
    assert generated.status == 200 and generated.body["user_id"].startswith("@")
    inhibited = await client.request(
        "POST",
        V3 + "/register",
        {"username": "quiet", "inhibit_login": True, "auth": {"type": "m.login.dummy"}},
    )
    assert set(inhibited.body) == {"user_id", "home_server"}
    refreshing = await client.register("fresh", refresh_token=True)
    assert refreshing["refresh_token"] and refreshing["expires_in_ms"] > 0


async def test_bad_bodies(client: Client) -> None:
    wrong_type = await client.request("POST", V3 + "/register", {"username": 5})
    assert wrong_type.errcode == "M_BAD_JSON"
    bad_kind = await client.request("POST", V3 + "/register", {}, params={"kind": "robot"})
    assert bad_kind.errcode == "M_INVALID_PARAM"
    bad_session = await client.request(
        "POST",
        V3 + "/register",
        {"username": "x1", "auth": {"type": "m.login.dummy", "session": "nope"}},
    )
    assert bad_session.status == 400


async def test_closed_registration_reserved_names_and_weak_passwords(configured: Any) -> None:
    closed = await configured(registration={"enabled": False})
    refused = await closed.request(
        "POST", V3 + "/register", {"username": "a", "password": PASSWORD}
    )
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    strict = await configured(
        registration={"enabled": True, "reserved_localparts": ["admin"]},
        password={"hash_cost": "min", "min_length": 12},
    )
    exclusive = await strict.request(
        "POST", V3 + "/register", {"username": "admin", "password": PASSWORD}
    )
    assert exclusive.errcode == "M_EXCLUSIVE"
    weak = await strict.request("POST", V3 + "/register", {"username": "bob", "password": "short"})
    assert weak.errcode == "M_WEAK_PASSWORD"


async def test_registration_tokens(configured: Any) -> None:
    client = await configured(
        registration={
            "enabled": True,
            "require_registration_token": True,
            "registration_tokens": ["letmein"],
        }
    )
    first = await client.request("POST", V3 + "/register", {"username": "t", "password": PASSWORD})
    assert first.body["flows"] == [{"stages": ["m.login.registration_token"]}]
    session = first.body["session"]
    wrong = await client.request(
        "POST",
        V3 + "/register",
        {
            "username": "t",
            "password": PASSWORD,
            "auth": {"type": "m.login.registration_token", "token": "bad", "session": session},
        },
    )
    assert wrong.status == 401 and wrong.errcode == "M_UNAUTHORIZED"
    dummy = await client.request(
        "POST",
        V3 + "/register",
        {"username": "t", "auth": {"type": "m.login.dummy", "session": session}},
    )
    assert dummy.status == 401
    right = await client.request(
        "POST",
        V3 + "/register",
        {
            "username": "t",
            "password": PASSWORD,
            "auth": {"type": "m.login.registration_token", "token": "letmein", "session": session},
        },
    )
    assert right.status == 200
    validity = "/_matrix/client/v1/register/m.login.registration_token/validity"
    assert (await client.request("GET", validity, params={"token": "letmein"})).body == {
        "valid": True
    }
    assert (await client.request("GET", validity, params={"token": "x"})).body == {"valid": False}


async def test_guests(configured: Any) -> None:
    client = await configured(registration={"enabled": True, "allow_guests": True})
    guest = await client.request(
        "POST", V3 + "/register", {"username": "ignored"}, params={"kind": "guest"}
    )
    assert guest.status == 200 and guest.body["user_id"] != "@ignored:test.local"
    token = guest.body["access_token"]
    whoami = await client.request("GET", V3 + "/account/whoami", token=token)
    assert whoami.body["is_guest"] is True
    devices = await client.request("GET", V3 + "/devices", token=token)
    assert (devices.status, devices.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    no_guests = await configured(registration={"enabled": True})
    refused = await no_guests.request("POST", V3 + "/register", {}, params={"kind": "guest"})
    assert refused.status == 403


async def test_guests_may_set_only_their_display_name(configured: Any) -> None:
    client = await configured(registration={"enabled": True, "allow_guests": True})
    guest = (await client.request("POST", V3 + "/register", {}, params={"kind": "guest"})).body
    token, user_id = guest["access_token"], guest["user_id"]
    named = await client.request(
        "PUT", f"{V3}/profile/{user_id}/displayname", {"displayname": "Visitor"}, token=token
    )
    assert named.status == 200
    for field, value in (("avatar_url", "mxc://x/y"), ("m.tz", "Europe/Paris")):
        refused = await client.request(
            "PUT", f"{V3}/profile/{user_id}/{field}", {field: value}, token=token
        )
        assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN"), field
        deleted = await client.request("DELETE", f"{V3}/profile/{user_id}/{field}", token=token)
        assert (deleted.status, deleted.errcode) == (403, "M_FORBIDDEN"), field


async def test_device_display_names_are_bounded(client: Client) -> None:
    body = await client.register("alice", initial_device_display_name="x" * 500)
    token, device_id = body["access_token"], body["device_id"]
    device = await client.request("GET", f"{V3}/devices/{device_id}", token=token)
    assert device.body["display_name"] == "x" * 100
    path = f"{V3}/devices/{device_id}"
    too_long = await client.request("PUT", path, {"display_name": "y" * 101}, token=token)
    assert (too_long.status, too_long.errcode) == (400, "M_TOO_LARGE")
    fits = await client.request("PUT", path, {"display_name": "y" * 100}, token=token)
    assert fits.status == 200


async def test_a_guest_upgrades_to_a_full_account(configured: Any) -> None:
    client = await configured(registration={"enabled": True, "allow_guests": True})
    guests = [
        (await client.request("POST", V3 + "/register", {}, params={"kind": "guest"})).body
        for _ in range(2)
    ]
    guest, other = guests
    localpart = guest["user_id"][1:].split(":")[0]
    body = {"username": localpart, "password": "a new password"}
    # Another guest's token, no token's name, or no username: the account is not theirs.
    stolen = await client.request(
        "POST", V3 + "/register", {**body, "guest_access_token": other["access_token"]}
    )
    assert (stolen.status, stolen.errcode) == (400, "M_USER_IN_USE")
    unnamed = await client.request(
        "POST", V3 + "/register", {"guest_access_token": guest["access_token"]}
    )
    assert (unnamed.status, unnamed.errcode) == (400, "M_MISSING_PARAM")
    bad_token = await client.request(
        "POST", V3 + "/register", {**body, "guest_access_token": "nonsense"}
    )
    assert (bad_token.status, bad_token.errcode) == (401, "M_UNKNOWN_TOKEN")

    body["guest_access_token"] = guest["access_token"]
    started = await client.request("POST", V3 + "/register", body)
    assert started.status == 401 and "session" in started.body
    done = await client.request(
        "POST",
        V3 + "/register",
        {**body, "auth": {"type": "m.login.dummy", "session": started.body["session"]}},
    )
    assert done.status == 200, done.body
    assert done.body["user_id"] == guest["user_id"]
    for token in (done.body["access_token"], guest["access_token"]):
        whoami = await client.request("GET", V3 + "/account/whoami", token=token)
        assert whoami.body["is_guest"] is False
    login = await client.login(localpart, "a new password")
    assert login.status == 200, login.body
    # Once upgraded, the guest token cannot upgrade it again.
    again = await client.request(
        "POST",
        V3 + "/register",
        {**body, "auth": {"type": "m.login.dummy"}},
    )
    assert (again.status, again.errcode) == (400, "M_USER_IN_USE")


# --- login, logout, refresh -----------------------------------------------------------


async def test_login_variants(client: Client) -> None:
    await client.register("alice")
    flows = await client.request("GET", V3 + "/login")
    assert flows.body == {"flows": [{"type": "m.login.password"}]}
    for identifier in ("alice", "@alice:test.local", "ALICE"):
        response = await client.login(identifier)
        assert response.status == 200, identifier
        assert response.body["user_id"] == "@alice:test.local"
        assert response.body["well_known"]["m.homeserver"]["base_url"]
    legacy = await client.request(
        "POST", V3 + "/login", {"type": "m.login.password", "user": "alice", "password": PASSWORD}
    )
    assert legacy.status == 200
    for bad in (await client.login("alice", "wrong"), await client.login("nobody")):
        assert (bad.status, bad.errcode) == (403, "M_FORBIDDEN")
    unknown_type = await client.request("POST", V3 + "/login", {"type": "m.login.magic"})
    assert (unknown_type.status, unknown_type.errcode) == (400, "M_UNKNOWN")
    thirdparty = await client.request(
        "POST",
        V3 + "/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.thirdparty", "medium": "email", "address": "a@b"},
            "password": "x",
        },
    )
    assert thirdparty.status == 403


async def test_reusing_a_device_id_replaces_its_token(client: Client) -> None:
    await client.register("alice")
    first = (await client.login("alice", device_id="DEV")).body["access_token"]
    second = (await client.login("alice", device_id="DEV")).body["access_token"]
    assert (await client.request("GET", V3 + "/account/whoami", token=first)).status == 401
    whoami = await client.request("GET", V3 + "/account/whoami", token=second)
    assert whoami.body == {"user_id": "@alice:test.local", "device_id": "DEV", "is_guest": False}


async def test_logout_and_logout_all(client: Client) -> None:
    await client.register("alice")
    one = (await client.login("alice")).body
    two = (await client.login("alice")).body
    assert (await client.request("POST", V3 + "/logout", token=one["access_token"])).status == 200
    assert (
        await client.request("GET", V3 + "/account/whoami", token=one["access_token"])
    ).errcode == "M_UNKNOWN_TOKEN"
    devices = await client.request("GET", V3 + "/devices", token=two["access_token"])
    assert one["device_id"] not in [d["device_id"] for d in devices.body["devices"]]
    assert (
        await client.request("POST", V3 + "/logout/all", token=two["access_token"])
    ).status == 200
    assert (
        await client.request("GET", V3 + "/account/whoami", token=two["access_token"])
    ).status == 401


async def test_refresh_tokens(configured: Any) -> None:
    client = await configured(auth={"refreshable_access_token_lifetime_ms": 500})
    body = await client.register("alice", refresh_token=True)
    old_access, old_refresh = body["access_token"], body["refresh_token"]
    rotated = await client.request("POST", V3 + "/refresh", {"refresh_token": old_refresh})
    assert rotated.status == 200
    assert (await client.request("GET", V3 + "/account/whoami", token=old_access)).status == 401
    # Until the new tokens are used, the old refresh token may be retried.
    retried = await client.request("POST", V3 + "/refresh", {"refresh_token": old_refresh})
    assert retried.status == 200
    new_access = retried.body["access_token"]
    assert (await client.request("GET", V3 + "/account/whoami", token=new_access)).status == 200
    spent = await client.request("POST", V3 + "/refresh", {"refresh_token": old_refresh})
    assert (spent.status, spent.errcode) == (401, "M_UNKNOWN_TOKEN")
    await asyncio.sleep(0.6)
    expired = await client.request("GET", V3 + "/account/whoami", token=new_access)
    assert (expired.status, expired.errcode, expired.body["soft_logout"]) == (
        401,
        "M_UNKNOWN_TOKEN",
        True,
    )
    missing = await client.request("POST", V3 + "/refresh", {})
    assert missing.errcode == "M_MISSING_PARAM"


async def test_login_rate_limit(configured: Any) -> None:
    client = await configured(rate_limiting={"enabled": True})
    await client.register("alice")
    statuses = [(await client.login("alice", "wrong")) for _ in range(6)]
    limited = [r for r in statuses if r.status == 429]
    assert limited, [r.status for r in statuses]
    assert limited[0].errcode == "M_LIMIT_EXCEEDED"
    assert limited[0].body["retry_after_ms"] > 0
    assert int(limited[0].headers["Retry-After"]) >= 1


async def test_access_token_in_query_string(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    whoami = await client.request("GET", V3 + "/account/whoami", params={"access_token": token})
    assert whoami.status == 200


# --- devices ----------------------------------------------------------------------------


def _password_auth(session: str, user: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
    return {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
        "session": session,
    }


async def test_devices(client: Client) -> None:
    me = await client.register("alice", device_id="MAIN")
    token = me["access_token"]
    other = (await client.login("alice", device_id="OTHER")).body
    listing = await client.request("GET", V3 + "/devices", token=token)
    by_id = {d["device_id"]: d for d in listing.body["devices"]}
    assert set(by_id) == {"MAIN", "OTHER"}
    assert by_id["MAIN"]["last_seen_ip"] == "127.0.0.1" and by_id["MAIN"]["last_seen_ts"] > 0
    assert (
        await client.request("PUT", V3 + "/devices/OTHER", {"display_name": "Tablet"}, token=token)
    ).status == 200
    assert (await client.request("PUT", V3 + "/devices/OTHER", {}, token=token)).status == 200
    one = await client.request("GET", V3 + "/devices/OTHER", token=token)
    assert one.body["display_name"] == "Tablet"
    missing = await client.request("GET", V3 + "/devices/NOPE", token=token)
    assert (missing.status, missing.errcode) == (404, "M_NOT_FOUND")
    assert (
        await client.request("PUT", V3 + "/devices/NOPE", {"display_name": "x"}, token=token)
    ).status == 404

    challenge = await client.request("DELETE", V3 + "/devices/OTHER", {}, token=token)
    assert challenge.status == 401 and challenge.body["flows"] == [{"stages": ["m.login.password"]}]
    session = challenge.body["session"]
    wrong = await client.request(
        "DELETE",
        V3 + "/devices/OTHER",
        {"auth": _password_auth(session, password="bad")},
        token=token,
    )
    assert wrong.status == 401 and wrong.errcode == "M_FORBIDDEN"
    other_device = await client.request(
        "DELETE", V3 + "/devices/MAIN", {"auth": _password_auth(session)}, token=token
    )
    assert other_device.status == 403
    deleted = await client.request(
        "DELETE", V3 + "/devices/OTHER", {"auth": _password_auth(session)}, token=token
    )
    assert deleted.status == 200
    assert (
        await client.request("GET", V3 + "/account/whoami", token=other["access_token"])
    ).status == 401


async def test_delete_devices(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    a = (await client.login("alice", device_id="A")).body
    await client.login("alice", device_id="B")
    missing = await client.request("POST", V3 + "/delete_devices", {}, token=token)
    assert missing.errcode == "M_MISSING_PARAM"
    challenge = await client.request(
        "POST", V3 + "/delete_devices", {"devices": ["A", "B"]}, token=token
    )
    done = await client.request(
        "POST",
        V3 + "/delete_devices",
        {"devices": ["A", "B"], "auth": _password_auth(challenge.body["session"])},
        token=token,
    )
    assert done.status == 200
    assert (
        await client.request("GET", V3 + "/account/whoami", token=a["access_token"])
    ).status == 401
    remaining = await client.request("GET", V3 + "/devices", token=token)
    assert len(remaining.body["devices"]) == 1


# --- password, deactivation, capabilities ---------------------------------------------


async def test_password_change(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    other = (await client.login("alice")).body["access_token"]
    challenge = await client.request(
        "POST", V3 + "/account/password", {"new_password": "n3w-password"}, token=token
    )
    assert challenge.status == 401
    changed = await client.request(
        "POST",
        V3 + "/account/password",
        {"new_password": "n3w-password", "auth": _password_auth(challenge.body["session"])},
        token=token,
    )
    assert changed.status == 200
    assert (await client.login("alice")).status == 403
    assert (await client.login("alice", "n3w-password")).status == 200
    assert (await client.request("GET", V3 + "/account/whoami", token=token)).status == 200
    assert (await client.request("GET", V3 + "/account/whoami", token=other)).status == 401


async def test_password_change_keeping_devices(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    other = (await client.login("alice")).body["access_token"]
    challenge = await client.request(
        "POST", V3 + "/account/password", {"new_password": "x2"}, token=token
    )
    await client.request(
        "POST",
        V3 + "/account/password",
        {
            "new_password": "x2",
            "logout_devices": False,
            "auth": _password_auth(challenge.body["session"]),
        },
        token=token,
    )
    assert (await client.request("GET", V3 + "/account/whoami", token=other)).status == 200


async def test_deactivation(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    challenge = await client.request("POST", V3 + "/account/deactivate", {}, token=token)
    done = await client.request(
        "POST",
        V3 + "/account/deactivate",
        {"auth": _password_auth(challenge.body["session"])},
        token=token,
    )
    assert done.status == 200 and done.body == {"id_server_unbind_result": "no-support"}
    assert (await client.request("GET", V3 + "/account/whoami", token=token)).status == 401
    login = await client.login("alice")
    assert login.status == 403 and login.errcode in ("M_USER_DEACTIVATED", "M_FORBIDDEN")
    again = await client.request(
        "POST", V3 + "/register", {"username": "alice", "password": PASSWORD}
    )
    assert again.errcode == "M_USER_IN_USE"


async def test_capabilities(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    caps = (await client.request("GET", V3 + "/capabilities", token=token)).body["capabilities"]
    assert caps["m.change_password"] == {"enabled": True}
    assert caps["m.room_versions"]["default"] == "10"
    assert set(caps["m.room_versions"]["available"]) == {str(v) for v in range(1, 13)}
    for key in ("m.set_displayname", "m.set_avatar_url", "m.3pid_changes"):
        assert "enabled" in caps[key]


async def test_deleting_a_device_with_someone_elses_password_is_forbidden(
    client: Client,
) -> None:
    alice = await client.register("alice")
    await client.register("eve")
    path = f"/_matrix/client/v3/devices/{alice['device_id']}"
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "eve"},
        "password": PASSWORD,
    }
    refused = await client.request("DELETE", path, {"auth": auth}, token=alice["access_token"])
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    assert "flows" not in refused.body


async def test_rate_limited_sends_still_answer_retries(configured: Any) -> None:
    limits = {"enabled": True, "message_per_user": {"per_second": 0.01, "burst_count": 2}}
    client = await configured(rate_limiting=limits)
    alice = await User.register(client, "alice")
    room_id = (await alice.call("POST", "/createRoom", {})).body["room_id"]
    path = f"/rooms/{room_id}/send/m.room.message/"
    content = {"msgtype": "m.text", "body": "hi"}
    first = await alice.call("PUT", path + "a", content)
    assert (await alice.call("PUT", path + "b", content)).status == 200
    refused = await alice.call("PUT", path + "c", content)
    assert refused.status == 429 and refused.errcode == "M_LIMIT_EXCEEDED"
    retried = await alice.call("PUT", path + "a", content)
    assert retried.status == 200 and retried.body["event_id"] == first.body["event_id"]
