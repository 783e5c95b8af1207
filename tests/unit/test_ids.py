from __future__ import annotations

import pytest

from homeserver.types.ids import UserID, is_valid_localpart, is_valid_server_name


@pytest.mark.parametrize(
    "name",
    ["matrix.org", "localhost:8008", "1.2.3.4", "1.2.3.4:1234", "[1234:5678::abcd]", "[::1]:80"],
)
def test_valid_server_names(name: str) -> None:
    assert is_valid_server_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "has space",
        "host:",
        "host:99999",
        "host:abc",
        "[zz::1]",
        "1.2.3.999",
        "a_b.org",
        "a.org\n",
    ],
)
def test_invalid_server_names(name: str) -> None:
    assert not is_valid_server_name(name)


def test_localparts() -> None:
    assert is_valid_localpart("alice.b=c_d-e/f+g")
    assert not is_valid_localpart("Alice")
    assert not is_valid_localpart("")
    assert not is_valid_localpart("a:b")
    # `$` would let a trailing newline through.
    assert not is_valid_localpart("alice\n")


def test_user_id_parsing() -> None:
    parsed = UserID.parse("@alice:example.org:8448")
    assert (parsed.localpart, parsed.domain) == ("alice", "example.org:8448")
    assert str(parsed) == "@alice:example.org:8448"
    assert UserID.parse("@Historical:example.org").is_compliant is False
    for bad in ("alice:example.org", "@alice", "@a:bad domain"):
        with pytest.raises(ValueError):
            UserID.parse(bad)
