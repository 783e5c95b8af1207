"""Pushers: POST /pushers/set and GET /pushers, and how they go with their device."""

from __future__ import annotations

from typing import Any

from tests.api.harness import PASSWORD, Client

V3 = "/_matrix/client/v3"
URL = "https://push.example.org/_matrix/push/v1/notify"


def pusher(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "http",
        "app_id": "org.example.app.android",
        "pushkey": "key-1",
        "app_display_name": "Example",
        "device_display_name": "Phone",
        "profile_tag": "tag",
        "lang": "en",
        "data": {"url": URL, "format": "event_id_only", "custom": {"x": 1}},
    }
    body.update(overrides)
    return body


async def pushers_of(client: Client, token: str) -> list[dict[str, Any]]:
    reply = await client.request("GET", V3 + "/pushers", token=token)
    assert reply.status == 200, reply.body
    return list(reply.body["pushers"])


async def test_set_list_update_and_delete(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    assert await pushers_of(client, token) == []
    assert (await client.request("POST", V3 + "/pushers/set", pusher(), token=token)).status == 200
    expected = {k: v for k, v in pusher().items() if k != "append"}
    assert await pushers_of(client, token) == [expected]
    # A format outside the spec's enum is kept as given (Synapse does the same).
    odd = pusher(pushkey="key-odd", data={"url": URL, "format": "id_event_only"})
    assert (await client.request("POST", V3 + "/pushers/set", odd, token=token)).status == 200
    await client.request(
        "POST",
        V3 + "/pushers/set",
        {"kind": None, "app_id": odd["app_id"], "pushkey": "key-odd"},
        token=token,
    )
    # The same app ID and pushkey is the same pusher: setting it again updates it.
    updated = pusher(lang="de", data={"url": URL})
    assert (await client.request("POST", V3 + "/pushers/set", updated, token=token)).status == 200
    listed = await pushers_of(client, token)
    assert len(listed) == 1 and listed[0]["lang"] == "de" and listed[0]["data"] == {"url": URL}
    other_key = pusher(pushkey="key-2", profile_tag=None)
    other_key.pop("profile_tag")
    await client.request("POST", V3 + "/pushers/set", other_key, token=token)
    assert {p["pushkey"] for p in await pushers_of(client, token)} == {"key-1", "key-2"}
    # kind null deletes; only app_id and pushkey are needed, and deleting nothing is fine.
    for _ in range(2):
        deleted = await client.request(
            "POST",
            V3 + "/pushers/set",
            {"kind": None, "app_id": "org.example.app.android", "pushkey": "key-1"},
            token=token,
        )
        assert deleted.status == 200, deleted.body
    assert [p["pushkey"] for p in await pushers_of(client, token)] == ["key-2"]


async def test_a_pushkey_moves_to_its_new_user_unless_appended(client: Client) -> None:
    alice = (await client.register("alice"))["access_token"]
    bob = (await client.register("bob"))["access_token"]
    await client.request("POST", V3 + "/pushers/set", pusher(), token=alice)
    await client.request("POST", V3 + "/pushers/set", pusher(append=True), token=bob)
    assert len(await pushers_of(client, alice)) == 1
    assert len(await pushers_of(client, bob)) == 1
    await client.request("POST", V3 + "/pushers/set", pusher(), token=bob)
    assert await pushers_of(client, alice) == []
    assert len(await pushers_of(client, bob)) == 1


async def test_invalid_pushers_are_refused(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"app_id": "a", "pushkey": "k"}, 400, "M_MISSING_PARAM"),
        ({k: v for k, v in pusher().items() if k != "pushkey"}, 400, "M_MISSING_PARAM"),
        (pusher(lang=None, data=None), 400, "M_MISSING_PARAM"),
        (pusher(data={"format": "event_id_only"}), 400, "M_MISSING_PARAM"),
        (pusher(data={"url": "https://push.example.org/elsewhere"}), 400, "M_INVALID_PARAM"),
        (
            pusher(data={"url": "ftp://push.example.org/_matrix/push/v1/notify"}),
            400,
            "M_INVALID_PARAM",
        ),
        (pusher(data={"url": 5}), 400, "M_BAD_JSON"),
        (pusher(kind="carrier-pigeon"), 400, "M_INVALID_PARAM"),
        (
            pusher(kind="email", app_id="m.email", pushkey="a@example.org"),
            400,
            "M_THREEPID_NOT_FOUND",
        ),
        (pusher(app_id="x" * 65), 400, "M_INVALID_PARAM"),
        (pusher(pushkey="é" * 257), 400, "M_INVALID_PARAM"),
        (pusher(kind=5), 400, "M_BAD_JSON"),
        (pusher(data="not an object"), 400, "M_BAD_JSON"),
        (pusher(append="yes"), 400, "M_BAD_JSON"),
    ]
    for body, status, errcode in cases:
        reply = await client.request("POST", V3 + "/pushers/set", body, token=token)
        assert (reply.status, reply.errcode) == (status, errcode), (body, reply.body)
    bad_json = await client.request("POST", V3 + "/pushers/set", raw=b"{", token=token)
    assert (bad_json.status, bad_json.errcode) == (400, "M_NOT_JSON")
    assert (await client.request("GET", V3 + "/pushers")).status == 401
    assert await pushers_of(client, token) == []


async def test_pushers_go_with_their_device(client: Client) -> None:
    first = await client.register("alice")
    second = (await client.login("alice")).body
    third = (await client.login("alice")).body
    for n, login in enumerate((first, second, third)):
        reply = await client.request(
            "POST", V3 + "/pushers/set", pusher(pushkey=f"key-{n}"), token=login["access_token"]
        )
        assert reply.status == 200, reply.body
    await client.request("POST", V3 + "/logout", {}, token=third["access_token"])
    assert {p["pushkey"] for p in await pushers_of(client, first["access_token"])} == {
        "key-0",
        "key-1",
    }
    # A password change logs the other devices out, and their pushers go with them.
    changed = await client.request(
        "POST",
        V3 + "/account/password",
        {
            "new_password": "a new password",
            "auth": {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": "alice"},
                "password": PASSWORD,
            },
        },
        token=first["access_token"],
    )
    assert changed.status == 200, changed.body
    assert [p["pushkey"] for p in await pushers_of(client, first["access_token"])] == ["key-0"]
