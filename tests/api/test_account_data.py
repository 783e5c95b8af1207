from __future__ import annotations

from tests.api.harness import Client

ALICE = "/_matrix/client/v3/user/@alice:test.local"
ROOM = "!room:test.local"


async def test_global_account_data_round_trip(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    missing = await client.request("GET", f"{ALICE}/account_data/org.example", token=token)
    assert missing.status == 404
    assert missing.errcode == "M_NOT_FOUND"
    for content in ({"a": 1}, {"b": [1, 2]}):
        put = await client.request("PUT", f"{ALICE}/account_data/org.example", content, token=token)
        assert put.status == 200
        got = await client.request("GET", f"{ALICE}/account_data/org.example", token=token)
        assert got.body == content


async def test_room_account_data_is_separate_from_global(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    await client.request("PUT", f"{ALICE}/account_data/t", {"where": "global"}, token=token)
    await client.request(
        "PUT", f"{ALICE}/rooms/{ROOM}/account_data/t", {"where": "room"}, token=token
    )
    got = await client.request("GET", f"{ALICE}/rooms/{ROOM}/account_data/t", token=token)
    assert got.body == {"where": "room"}
    got = await client.request("GET", f"{ALICE}/account_data/t", token=token)
    assert got.body == {"where": "global"}


async def test_errors(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    other = await client.request(
        "PUT", "/_matrix/client/v3/user/@bob:test.local/account_data/t", {}, token=token
    )
    assert (other.status, other.errcode) == (403, "M_FORBIDDEN")
    managed = await client.request(
        "PUT", f"{ALICE}/rooms/{ROOM}/account_data/m.fully_read", {"event_id": "$x"}, token=token
    )
    assert (managed.status, managed.errcode) == (405, "M_BAD_JSON")
    bad_room = await client.request(
        "PUT", f"{ALICE}/rooms/not-a-room/account_data/t", {}, token=token
    )
    assert (bad_room.status, bad_room.errcode) == (400, "M_INVALID_PARAM")
    not_object = await client.request("PUT", f"{ALICE}/account_data/t", raw=b"[1]", token=token)
    assert (not_object.status, not_object.errcode) == (400, "M_BAD_JSON")
    not_json = await client.request("PUT", f"{ALICE}/account_data/t", raw=b"{", token=token)
    assert (not_json.status, not_json.errcode) == (400, "M_NOT_JSON")


async def test_tags(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    tags = f"{ALICE}/rooms/{ROOM}/tags"
    empty = await client.request("GET", tags, token=token)
    assert empty.body == {"tags": {}}
    assert (
        await client.request("PUT", f"{tags}/u.work", {"order": 0.5}, token=token)
    ).status == 200
    assert (await client.request("PUT", f"{tags}/m.favourite", {}, token=token)).status == 200
    got = await client.request("GET", tags, token=token)
    assert got.body == {"tags": {"u.work": {"order": 0.5}, "m.favourite": {}}}
    await client.request("DELETE", f"{tags}/u.work", token=token)
    got = await client.request("GET", tags, token=token)
    assert got.body == {"tags": {"m.favourite": {}}}
    as_account_data = await client.request(
        "GET", f"{ALICE}/rooms/{ROOM}/account_data/m.tag", token=token
    )
    assert as_account_data.body == {"tags": {"m.favourite": {}}}
    bad = await client.request("PUT", f"{tags}/u.x", {"order": "high"}, token=token)
    assert (bad.status, bad.errcode) == (400, "M_BAD_JSON")
