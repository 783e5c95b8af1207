"""Send-to-device: queued per device, idempotent per transaction ID.

Delivery through /sync arrives with the sync issue; here the inbox is read from the service.
"""

from __future__ import annotations

from homeserver.app import Homeserver
from tests.api.harness import Client

SEND = "/_matrix/client/v3/sendToDevice"


async def test_messages_reach_named_and_all_devices_once(
    client: Client, server: Homeserver
) -> None:
    alice = await client.register("alice")
    bob_phone = await client.register("bob", device_id="PHONE")
    bob_laptop = (await client.login("bob", device_id="LAPTOP")).body
    assert bob_laptop["device_id"] == "LAPTOP"
    body = {
        "messages": {
            "@bob:test.local": {"PHONE": {"n": 1}},
            "@remote:elsewhere.org": {"X": {"n": 3}},
        }
    }
    for _ in range(2):  # the retry with the same txn ID must not queue again
        sent = await client.request("PUT", f"{SEND}/m.test/t1", body, token=alice["access_token"])
        assert sent.status == 200 and sent.body == {}
    everyone = {"messages": {"@bob:test.local": {"*": {"n": 2}}}}
    await client.request("PUT", f"{SEND}/m.test/t2", everyone, token=alice["access_token"])

    service = server.services.to_device
    upto = server.services.notifier.current_token.to_device
    phone, reached = await service.inbox("@bob:test.local", bob_phone["device_id"], 0, upto)
    assert [m["content"] for m in phone] == [{"n": 1}, {"n": 2}]
    assert phone[0] == {"sender": "@alice:test.local", "type": "m.test", "content": {"n": 1}}
    assert reached == upto
    laptop, _ = await service.inbox("@bob:test.local", "LAPTOP", 0, upto)
    assert [m["content"] for m in laptop] == [{"n": 2}]

    await service.acknowledge("@bob:test.local", "PHONE", upto)
    assert (await service.inbox("@bob:test.local", "PHONE", 0, upto))[0] == []


async def test_invalid_bodies(client: Client) -> None:
    token = (await client.register("alice"))["access_token"]
    for bad in ({}, {"messages": []}, {"messages": {"@bob:test.local": {"D": "not an object"}}}):
        response = await client.request("PUT", f"{SEND}/m.test/t", bad, token=token)
        assert response.status == 400, bad
    bad_user = await client.request(
        "PUT", f"{SEND}/m.test/t9", {"messages": {"bob": {"D": {}}}}, token=token
    )
    assert (bad_user.status, bad_user.errcode) == (400, "M_INVALID_PARAM")


async def test_messages_to_unknown_or_deleted_devices_are_not_kept(
    client: Client, server: Homeserver
) -> None:
    """A device created later with the same ID must not receive them."""
    alice = await client.register("alice")
    bob = await client.register("bob", device_id="OLD")
    body = {"messages": {"@bob:test.local": {"NEW": {"n": 1}, "OLD": {"n": 2}}}}
    sent = await client.request("PUT", f"{SEND}/m.test/t1", body, token=alice["access_token"])
    assert sent.status == 200
    logout = await client.request(
        "POST", "/_matrix/client/v3/logout", {}, token=bob["access_token"]
    )
    assert logout.status == 200
    for device_id in ("NEW", "OLD"):
        assert (await client.login("bob", device_id=device_id)).status == 200
    service = server.services.to_device
    upto = server.services.notifier.current_token.to_device
    for device_id in ("NEW", "OLD"):
        inbox, _ = await service.inbox("@bob:test.local", device_id, 0, upto)
        assert inbox == [], device_id
