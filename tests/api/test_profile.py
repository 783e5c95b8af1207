"""Profiles: GET/PUT/DELETE of whole profiles and single fields (spec v1.16+ fields)."""

from __future__ import annotations

from tests.api.harness import Client

BASE = "/_matrix/client/v3/profile"


async def test_new_account_has_its_localpart_as_displayname(client: Client) -> None:
    await client.register("alice")
    response = await client.request("GET", f"{BASE}/@alice:test.local")
    assert response.status == 200
    assert response.body == {"displayname": "alice"}


async def test_set_get_and_delete_fields(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    me = f"{BASE}/@alice:test.local"
    for field, value in (
        ("displayname", "Alice"),
        ("avatar_url", "mxc://test.local/abc"),
        ("m.tz", "Europe/London"),
        ("org.example.pronouns", {"en": "she/her"}),
    ):
        put = await client.request("PUT", f"{me}/{field}", {field: value}, token=token)
        assert put.status == 200, put.body
        got = await client.request("GET", f"{me}/{field}")
        assert got.body == {field: value}
    whole = await client.request("GET", me)
    assert whole.body["displayname"] == "Alice"
    assert whole.body["org.example.pronouns"] == {"en": "she/her"}
    deleted = await client.request("DELETE", f"{me}/m.tz", token=token)
    assert deleted.status == 200
    missing = await client.request("GET", f"{me}/m.tz")
    assert missing.status == 404
    assert missing.errcode == "M_NOT_FOUND"


async def test_cannot_change_someone_elses_profile(client: Client) -> None:
    await client.register("alice")
    mallory = (await client.register("mallory"))["access_token"]
    response = await client.request(
        "PUT", f"{BASE}/@alice:test.local/displayname", {"displayname": "x"}, token=mallory
    )
    assert response.status == 403
    assert response.errcode == "M_FORBIDDEN"


async def test_invalid_values_and_names(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    me = f"{BASE}/@alice:test.local"
    cases = [
        ("displayname", {"displayname": 5}, "M_BAD_JSON"),
        ("displayname", {}, "M_MISSING_PARAM"),
        ("avatar_url", {"avatar_url": 5}, "M_BAD_JSON"),
        ("NotNamespaced", {"NotNamespaced": 1}, "M_INVALID_PARAM"),
        ("displayname", {"displayname": "x" * 300}, "M_INVALID_PARAM"),
        ("a." + "b" * 300, {"a." + "b" * 300: 1}, "M_KEY_TOO_LARGE"),
    ]
    for field, body, errcode in cases:
        response = await client.request("PUT", f"{me}/{field}", body, token=token)
        assert response.status == 400, (field, response.body)
        assert response.errcode == errcode, (field, response.body)


async def test_profile_size_limit(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    big = "x" * 40_000
    me = f"{BASE}/@alice:test.local"
    first = await client.request("PUT", f"{me}/org.example.a", {"org.example.a": big}, token=token)
    assert first.status == 200
    second = await client.request("PUT", f"{me}/org.example.b", {"org.example.b": big}, token=token)
    assert second.status == 400
    assert second.errcode == "M_PROFILE_TOO_LARGE"


async def test_unknown_user_is_404(client: Client) -> None:
    response = await client.request("GET", f"{BASE}/@nobody:test.local")
    assert response.status == 404
    assert response.errcode == "M_NOT_FOUND"
    response = await client.request("GET", f"{BASE}/not-a-user-id")
    assert response.status == 400


async def test_profile_change_updates_member_events(client: Client) -> None:
    from tests.api.rooms_helpers import User

    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    put = await alice.call(
        "PUT", "/profile/@alice:test.local/displayname", {"displayname": "Alice A."}
    )
    assert put.status == 200
    member = await bob.call("GET", f"/rooms/{room_id}/state/m.room.member/@alice:test.local")
    assert member.body == {"membership": "join", "displayname": "Alice A."}
    joined = await bob.call("GET", f"/rooms/{room_id}/joined_members")
    assert joined.body["joined"]["@alice:test.local"]["display_name"] == "Alice A."
