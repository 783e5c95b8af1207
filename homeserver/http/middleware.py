"""The one middleware every request passes: request id, CORS, errors, logs and metrics."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from homeserver.http.routing import ENDPOINT_NAME_KEY, REQUESTER_KEY, json_response
from homeserver.types.errors import Codes, LimitExceeded, MatrixError

log = structlog.get_logger("homeserver.http")

REQUEST_ID_HEADER = "X-Request-Id"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization, Date",
    "Access-Control-Expose-Headers": REQUEST_ID_HEADER,
}

REQUESTS = Counter(
    "homeserver_http_requests_total", "HTTP requests by endpoint", ["method", "endpoint", "status"]
)
DURATION = Histogram(
    "homeserver_http_request_duration_seconds",
    "HTTP request duration by endpoint",
    ["method", "endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge("homeserver_http_requests_in_flight", "HTTP requests being handled")

_SECRET_QUERY = re.compile(r"(?i)(access_token|token|password)=[^&]*")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def redacted_path(request: web.Request) -> str:
    if not request.query_string:
        return request.path
    return request.path + "?" + _SECRET_QUERY.sub(r"\1=<redacted>", request.query_string)


def _http_exception_error(error: web.HTTPException) -> MatrixError:
    if error.status == 404:
        return MatrixError(404, Codes.UNRECOGNIZED, "Unrecognized request")
    if error.status == 405:
        return MatrixError(405, Codes.UNRECOGNIZED, "Method not allowed for this endpoint")
    if error.status == 413:
        return MatrixError(413, Codes.TOO_LARGE, "Request body too large")
    return MatrixError(error.status, Codes.UNKNOWN, error.reason or "HTTP error")


@web.middleware
async def matrix_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = secrets.token_hex(8)
    started = time.perf_counter()
    IN_FLIGHT.inc()
    error: MatrixError | None = None
    try:
        if request.method == "OPTIONS":
            response: web.StreamResponse = json_response({})
        else:
            response = await handler(request)
    except MatrixError as raised:
        error = raised
    except web.HTTPException as raised:
        error = _http_exception_error(raised)
    except Exception:
        log.exception("unhandled error", request_id=request_id, path=redacted_path(request))
        error = MatrixError(500, Codes.UNKNOWN, "Internal server error")
    finally:
        IN_FLIGHT.dec()
    if error is not None:
        response = json_response(error.to_json(), status=error.status)
        if isinstance(error, LimitExceeded):
            response.headers["Retry-After"] = str(max(1, -(-error.retry_after_ms // 1000)))
    if not response.prepared:
        response.headers.update(CORS_HEADERS)
        response.headers[REQUEST_ID_HEADER] = request_id
    elapsed = time.perf_counter() - started
    endpoint = request.get(ENDPOINT_NAME_KEY, "unmatched")
    REQUESTS.labels(request.method, endpoint, str(response.status)).inc()
    DURATION.labels(request.method, endpoint).observe(elapsed)
    requester = request.get(REQUESTER_KEY)
    log.info(
        "request",
        request_id=request_id,
        method=request.method,
        path=redacted_path(request),
        status=response.status,
        duration_ms=round(elapsed * 1000, 2),
        user=requester.user_id if requester is not None else None,
        errcode=error.errcode if error is not None else None,
    )
    return response
