"""Access and refresh tokens: minting, looking up (with an in-memory cache), revoking."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from homeserver.services.common.clock import Clock
from homeserver.services.common.lru_cache import LruCache
from homeserver.types.errors import Codes, Unauthorized
from homeserver.types.requester import Requester
from storage.database import Connection
from storage.stores import Stores

ACCESS_TOKEN_PREFIX = "mha_"
REFRESH_TOKEN_PREFIX = "mhr_"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None


@dataclass(frozen=True, slots=True)
class _CachedToken:
    requester: Requester
    expires_ts: int | None


class TokenCache:
    """Bounded LRU of token hash -> requester, with an index to drop a user's or device's tokens."""

    def __init__(self, max_size: int) -> None:
        self._entries: LruCache[bytes, _CachedToken] = LruCache(max_size)
        self._by_user: dict[str, set[bytes]] = {}

    def get(self, token_hash: bytes) -> _CachedToken | None:
        return self._entries.get(token_hash)

    def put(self, token_hash: bytes, entry: _CachedToken) -> None:
        if self._entries.max_size <= 0:
            return
        self._by_user.setdefault(entry.requester.user_id, set()).add(token_hash)
        evicted = self._entries.put(token_hash, entry)
        if evicted is not None:
            self._forget_index(evicted[1].requester.user_id, evicted[0])

    def _forget_index(self, user_id: str, token_hash: bytes) -> None:
        hashes = self._by_user.get(user_id)
        if hashes is not None:
            hashes.discard(token_hash)
            if not hashes:
                del self._by_user[user_id]

    def invalidate(self, token_hash: bytes) -> None:
        entry = self._entries.pop(token_hash)
        if entry is not None:
            self._forget_index(entry.requester.user_id, token_hash)

    def invalidate_user(self, user_id: str, device_id: str | None = None) -> None:
        for token_hash in list(self._by_user.get(user_id, ())):
            entry = self._entries.get(token_hash)
            if entry is None:
                self._forget_index(user_id, token_hash)
            elif device_id is None or entry.requester.device_id == device_id:
                self.invalidate(token_hash)


class AuthService:
    def __init__(
        self,
        stores: Stores,
        clock: Clock,
        refreshable_token_lifetime_ms: int,
        refresh_token_lifetime_ms: int | None,
        cache_size: int,
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.refreshable_token_lifetime_ms = refreshable_token_lifetime_ms
        self.refresh_token_lifetime_ms = refresh_token_lifetime_ms
        self.cache = TokenCache(cache_size)

    async def issue_tokens(
        self, user_id: str, device_id: str, *, refreshable: bool, conn: Connection | None = None
    ) -> IssuedTokens:
        """Mint an access token (and a refresh token with an expiring access token if asked)."""
        if not refreshable:
            access_token = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
            await self.stores.tokens.add_access_token(
                hash_token(access_token), user_id, device_id, self.clock.time_ms(), conn=conn
            )
            return IssuedTokens(access_token, None, None)
        issued, _ = await self._issue_refreshable(user_id, device_id, conn)
        return issued

    async def _issue_refreshable(
        self, user_id: str, device_id: str, conn: Connection | None
    ) -> tuple[IssuedTokens, int]:
        now = self.clock.time_ms()
        access_token = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
        refresh_token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
        refresh_expiry = (
            now + self.refresh_token_lifetime_ms if self.refresh_token_lifetime_ms else None
        )
        refresh_id = await self.stores.tokens.add_refresh_token(
            hash_token(refresh_token), user_id, device_id, now, refresh_expiry, conn=conn
        )
        await self.stores.tokens.add_access_token(
            hash_token(access_token),
            user_id,
            device_id,
            now,
            expires_ts=now + self.refreshable_token_lifetime_ms,
            refresh_token_id=refresh_id,
            conn=conn,
        )
        issued = IssuedTokens(access_token, refresh_token, self.refreshable_token_lifetime_ms)
        return issued, refresh_id

    async def authenticate(self, access_token: str) -> Requester:
        token_hash = hash_token(access_token)
        cached = self.cache.get(token_hash)
        if cached is None:
            record = await self.stores.tokens.get_access_token(token_hash)
            if record is None or record.deactivated:
                raise Unauthorized(Codes.UNKNOWN_TOKEN, "Unknown access token", soft_logout=False)
            if record.refresh_token_id is not None:
                # First use of a refreshed token: the refresh token before it is now spent.
                await self.stores.tokens.revoke_predecessors(record.refresh_token_id)
            requester = Requester(record.user_id, record.device_id, record.is_guest, record.id)
            cached = _CachedToken(requester, record.expires_ts)
            self.cache.put(token_hash, cached)
        if cached.expires_ts is not None and cached.expires_ts <= self.clock.time_ms():
            raise Unauthorized(Codes.UNKNOWN_TOKEN, "Access token has expired", soft_logout=True)
        return cached.requester

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Rotate a refresh token: new access + refresh token, the old access token revoked."""
        now = self.clock.time_ms()
        async with self.stores.db.transaction() as conn:
            record = await self.stores.tokens.get_refresh_token_for_update(
                hash_token(refresh_token), conn
            )
            if record is None:
                raise Unauthorized(Codes.UNKNOWN_TOKEN, "Unknown refresh token", soft_logout=False)
            if record.expires_ts is not None and record.expires_ts <= now:
                raise Unauthorized(Codes.UNKNOWN_TOKEN, "Refresh token expired", soft_logout=False)
            if record.next_token_id is not None:
                # A retried refresh: the successor minted last time was never used.
                await self.stores.tokens.delete_refresh_token(record.next_token_id, conn)
            revoked = await self.stores.tokens.delete_access_tokens_of_refresh_token(
                record.id, conn
            )
            issued, new_id = await self._issue_refreshable(record.user_id, record.device_id, conn)
            await self.stores.tokens.set_next_refresh_token(record.id, new_id, conn)
        # Using this token spends the one that came before it, as using an access token does.
        await self.stores.tokens.revoke_predecessors(record.id)
        for token_hash in revoked:
            self.cache.invalidate(token_hash)
        return issued

    async def revoke_access_token(self, requester: Requester, access_token: str) -> None:
        await self.stores.tokens.delete_access_token(requester.access_token_id)
        self.cache.invalidate(hash_token(access_token))

    def forget_cached(self, user_id: str, device_id: str | None = None) -> None:
        """Drop cached tokens after their rows were deleted (device removal, deactivation)."""
        self.cache.invalidate_user(user_id, device_id)
