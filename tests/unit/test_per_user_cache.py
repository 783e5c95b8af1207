from __future__ import annotations

from homeserver.rules.ignored_users import ignored_user_ids
from homeserver.services.common.per_user_cache import PerUserCache
from homeserver.streams.notifier import LocalNotifier
from homeserver.types.stream_token import Stream, StreamToken


async def test_value_is_read_again_only_after_the_stream_names_the_user() -> None:
    notifier = LocalNotifier(StreamToken())
    reads: list[str] = []

    async def read(user_id: str) -> int:
        reads.append(user_id)
        return len(reads)

    cache = PerUserCache(notifier, Stream.ACCOUNT_DATA, read, max_users=10)
    assert await cache.get("@a:x") == 1
    assert await cache.get("@a:x") == 1
    # Another user's change, or a change on another stream, keeps the value.
    notifier.notify(Stream.ACCOUNT_DATA, 1, users=["@b:x"])
    notifier.notify(Stream.EVENTS, 1, users=["@a:x"])
    assert await cache.get("@a:x") == 1
    notifier.notify(Stream.ACCOUNT_DATA, 2, users=["@a:x"])
    assert await cache.get("@a:x") == 2
    cache.invalidate("@a:x")
    assert await cache.get("@a:x") == 3
    assert reads == ["@a:x"] * 3


def test_ignore_list_content() -> None:
    assert ignored_user_ids({"ignored_users": {"@a:x": {}, "@b:x": {}}}) == {"@a:x", "@b:x"}
    # Not the shape the spec gives: nobody is ignored (as in Synapse).
    for content in (None, {}, {"ignored_users": ["@a:x"]}, {"ignored_users": "@a:x"}):
        assert ignored_user_ids(content) == frozenset()
