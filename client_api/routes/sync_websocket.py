"""Sync over a WebSocket: our extension, documented in spec/sync-websocket.md.

The server sends the JSON of GET /sync as a message whenever there is something new,
starting with an initial sync (or from `since`). A client that reconnects with the last
`next_batch` it received misses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from aiohttp import WSMsgType, web

from client_api.routes.sync import parse_sync_request
from homeserver.http.routing import Auth, RequestContext, RouteTable
from homeserver.types.stream_token import StreamToken

routes = RouteTable()

PATH = "/_matrix/client/unstable/org.homeserver.sync_ws/sync"
# How long one server-side wait lasts before it starts over; nothing is sent for it.
_WAIT_MS = 30_000
_HEARTBEAT_S = 30.0
# A client that does not read what is sent within this long is closed (it is overloaded).
_SEND_TIMEOUT_S = 30.0


def _has_news(response: dict[str, Any]) -> bool:
    return bool(
        response["to_device"]["events"]
        or response["account_data"]["events"]
        or response["presence"]["events"]
        or any(response["rooms"].values())
    )


async def _until_closed(socket: web.WebSocketResponse) -> None:
    """Clients send nothing but control frames; this returns when the socket closes."""
    async for message in socket:
        if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            return


@routes.route("GET", PATH, auth=Auth.REQUIRED, allow_guests=True)
async def sync_websocket(ctx: RequestContext) -> web.StreamResponse:
    request = await parse_sync_request(ctx)
    socket = web.WebSocketResponse(heartbeat=_HEARTBEAT_S, max_msg_size=64 * 1024)
    await socket.prepare(ctx.http)
    closed = asyncio.create_task(_until_closed(socket))
    first = True
    try:
        while not socket.closed:
            waiting = asyncio.create_task(
                ctx.services.sync.sync(replace(request, timeout_ms=0 if first else _WAIT_MS))
            )
            done, _ = await asyncio.wait({waiting, closed}, return_when=asyncio.FIRST_COMPLETED)
            if waiting not in done:
                waiting.cancel()
                break
            response = waiting.result()
            if first or _has_news(response):
                await asyncio.wait_for(socket.send_json(response), _SEND_TIMEOUT_S)
            first = False
            request = replace(
                request, since=StreamToken.parse(response["next_batch"]), full_state=False
            )
    except (TimeoutError, ConnectionResetError):
        pass
    finally:
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await closed
        await socket.close()
    return socket
