"""The HTTP base every endpoint shares: errors, CORS, request ids, metrics, health."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg

from homeserver.app import Homeserver
from tests.api.harness import Client
from tests.api.rooms_helpers import User


async def test_versions(client: Client) -> None:
    response = await client.request("GET", "/_matrix/client/versions")
    assert response.status == 200
    assert "v1.1" in response.body["versions"]
    assert isinstance(response.body["unstable_features"], dict)


async def test_unknown_endpoint_is_m_unrecognized(client: Client) -> None:
    response = await client.request("GET", "/_matrix/client/v3/no/such/thing")
    assert response.status == 404
    assert response.errcode == "M_UNRECOGNIZED"


async def test_wrong_method_is_405_m_unrecognized(client: Client) -> None:
    response = await client.request("DELETE", "/_matrix/client/versions")
    assert response.status == 405
    assert response.errcode == "M_UNRECOGNIZED"


async def test_malformed_json_is_m_not_json(client: Client) -> None:
    response = await client.request("POST", "/_matrix/client/v3/login", raw=b"{not json")
    assert response.status == 400
    assert response.errcode == "M_NOT_JSON"


async def test_json_nan_is_not_json(client: Client) -> None:
    response = await client.request("POST", "/_matrix/client/v3/login", raw=b'{"a": NaN}')
    assert response.errcode == "M_NOT_JSON"


async def test_json_that_is_not_an_object_is_m_bad_json(client: Client) -> None:
    response = await client.request("POST", "/_matrix/client/v3/login", raw=b"[1, 2]")
    assert response.status == 400
    assert response.errcode == "M_BAD_JSON"


async def test_wrong_type_is_m_bad_json(client: Client) -> None:
    response = await client.request("POST", "/_matrix/client/v3/login", {"type": 5})
    assert response.status == 400
    assert response.errcode == "M_BAD_JSON"


async def test_missing_field_is_m_missing_param(client: Client) -> None:
    response = await client.request("POST", "/_matrix/client/v3/login", {"password": "x"})
    assert response.status == 400
    assert response.errcode == "M_MISSING_PARAM"


async def test_deeply_nested_json_is_not_a_500(client: Client) -> None:
    response = await client.request(
        "POST", "/_matrix/client/v3/login", raw=b"[" * 100_000 + b"]" * 100_000
    )
    assert response.status == 400


async def test_nul_characters_anywhere_stored_are_m_bad_json(client: Client) -> None:
    """Postgres stores no NUL in text and no \\u0000 in jsonb, whichever table it is."""
    user = User(client, await client.register("alice"))
    room = await user.create_room()
    pusher = {
        "kind": "http",
        "app_id": "org.example\u0000",
        "pushkey": "k",
        "app_display_name": "x",
        "device_display_name": "d",
        "lang": "en",
        "data": {"url": "https://p.example/_matrix/push/v1/notify"},
    }
    for method, path, body in (
        ("PUT", f"/profile/{user.user_id}/displayname", {"displayname": "a\u0000"}),
        ("PUT", f"/user/{user.user_id}/account_data/org.example", {"a": "\u0000"}),
        ("PUT", f"/rooms/{room}/state/org.example/a%00b", {}),
        ("POST", "/pushers/set", pusher),
        (
            "POST",
            "/pushers/set",
            {**pusher, "app_id": "a", "data": {**pusher["data"], "x": "\u0000"}},
        ),
    ):
        reply = await user.call(method, path, body)
        assert (reply.status, reply.errcode) == (400, "M_BAD_JSON"), (path, reply.body)
    # A message stores its JSON as text, escapes and all: that one is accepted.
    sent = await user.call(
        "PUT", f"/rooms/{room}/send/m.room.message/1", {"msgtype": "m.text", "body": "\u0000"}
    )
    assert sent.status == 200
    # The refused state event held back no stream position: the message reaches a sync.
    synced = await user.call("GET", "/sync")
    timeline = synced.body["rooms"]["join"][room]["timeline"]["events"]
    assert timeline[-1]["event_id"] == sent.body["event_id"]


async def test_oversized_body_is_m_too_large(client: Client, server: Homeserver) -> None:
    limit = server.config.http.max_request_body_bytes
    response = await client.request(
        "POST", "/_matrix/client/v3/login", raw=b'{"a":"' + b"x" * (limit + 10) + b'"}'
    )
    assert response.status == 413
    assert response.errcode == "M_TOO_LARGE"


async def test_cors_headers_on_responses_and_errors(client: Client) -> None:
    for path in ("/_matrix/client/versions", "/_matrix/client/v3/nothing"):
        response = await client.request("GET", path)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


async def test_options_preflight_answered(client: Client) -> None:
    response = await client.request(
        "OPTIONS",
        "/_matrix/client/v3/account/whoami",
        headers={"Origin": "https://app.element.io", "Access-Control-Request-Method": "GET"},
    )
    assert response.status == 200
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


async def test_request_id_header(client: Client) -> None:
    first = await client.request("GET", "/_matrix/client/versions")
    second = await client.request("GET", "/_matrix/client/versions")
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


async def test_metrics_and_health(client: Client) -> None:
    await client.request("GET", "/_matrix/client/versions")
    metrics = await client.request("GET", "/metrics")
    assert metrics.status == 200
    assert 'homeserver_http_requests_total{endpoint="versions.versions"' in metrics.body
    assert "homeserver_db_pool_size" in metrics.body
    assert "process_resident_memory_bytes" in metrics.body
    assert "homeserver_http_requests_in_flight" in metrics.body
    health = await client.request("GET", "/health")
    assert health.status == 200


async def test_well_known(client: Client, server: Homeserver) -> None:
    response = await client.request("GET", "/.well-known/matrix/client")
    assert response.body["m.homeserver"]["base_url"].startswith("http://127.0.0.1:")
    response = await client.request("GET", "/.well-known/matrix/server")
    assert response.body == {"m.server": "test.local:443"}


async def test_missing_token(client: Client) -> None:
    response = await client.request("GET", "/_matrix/client/v3/account/whoami")
    assert response.status == 401
    assert response.errcode == "M_MISSING_TOKEN"


async def test_unknown_token(client: Client) -> None:
    response = await client.request("GET", "/_matrix/client/v3/account/whoami", token="nope")
    assert response.status == 401
    assert response.errcode == "M_UNKNOWN_TOKEN"
    assert response.body["soft_logout"] is False


async def test_malformed_authorization_header(client: Client) -> None:
    response = await client.request(
        "GET", "/_matrix/client/v3/account/whoami", headers={"Authorization": "Basic abc"}
    )
    assert response.status == 401
    assert response.errcode == "M_MISSING_TOKEN"


async def test_health_reports_an_unreachable_database(
    client: Client, database_url: str, admin_dsn: str
) -> None:
    assert (await client.request("GET", "/health")).status == 200
    admin = await asyncpg.connect(admin_dsn)
    try:
        # The embedded Postgres's URL names its socket directory in the query string.
        name = urlsplit(database_url).path.lstrip("/")
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    health = await client.request("GET", "/health")
    assert (health.status, health.body["status"]) == (503, "unavailable")


async def test_unencodable_strings_infinite_numbers_and_deep_json_are_400(client: Client) -> None:
    """Each of these parsed, then failed as a 500 where the value was encoded or walked."""
    user = User(client, await client.register("alice"))
    room = await user.create_room()
    deep = '{"a":' * 150 + "1" + "}" * 150
    paths = [
        f"/rooms/{room}/send/m.room.message/t1",
        f"/rooms/{room}/state/org.example/k",
        f"/user/{user.user_id}/account_data/org.example",
        f"/profile/{user.user_id}/displayname",
    ]
    bodies = {
        "lone surrogate": b'{"msgtype": "m.text", "body": "\\ud800", "displayname": "\\udfff"}',
        "infinite number": b'{"msgtype": "m.text", "body": "x", "n": 1e400}',
        "150 levels deep": deep.encode(),
    }
    for path in paths:
        for what, raw in bodies.items():
            reply = await user.call("PUT", path, raw=raw)
            assert reply.status == 400, (path, what, reply.body)
            assert reply.errcode in ("M_BAD_JSON", "M_NOT_JSON"), (path, what, reply.body)
    # A surrogate pair is one valid character, and 100 levels are allowed.
    pair = b'{"msgtype": "m.text", "body": "\\ud83d\\ude00"}'
    assert (await user.call("PUT", paths[0], raw=pair)).status == 200
    nested = '{"msgtype": "m.text", "body": "x", "n": ' + '{"a":' * 98 + "1" + "}" * 99
    assert (
        await user.call("PUT", f"/rooms/{room}/send/m.room.message/t2", raw=nested.encode())
    ).status == 200
