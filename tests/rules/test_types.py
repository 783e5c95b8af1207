"""Room version records, identifiers, frozen JSON and state maps."""

from __future__ import annotations

import copy
import pickle

import pytest

from homeserver.types.frozen import FrozenDict, FrozenList, freeze, thaw
from homeserver.types.ids import (
    create_event_id_for_room,
    is_user_id,
    room_id_for_create_event,
    server_name_of,
)
from homeserver.types.room_versions import (
    DEFAULT_ROOM_VERSION,
    KNOWN_ROOM_VERSIONS,
    EventIdFormat,
    RedactionRules,
    StateResAlgorithm,
)
from homeserver.types.state import StateMap


def having(feature: str) -> list[int]:
    return [int(k) for k, v in KNOWN_ROOM_VERSIONS.items() if getattr(v, feature)]


def test_capabilities_per_version() -> None:
    assert sorted(KNOWN_ROOM_VERSIONS, key=int) == [str(n) for n in range(1, 13)]
    assert DEFAULT_ROOM_VERSION == "10"
    assert having("redaction_auth_rule") == [1, 2]
    assert having("event_id_has_domain") == [1, 2]
    assert having("special_case_aliases_auth") == [1, 2, 3, 4, 5]
    assert having("float_power_levels") == [1, 2, 3, 4, 5]
    assert having("enforce_key_validity") == list(range(5, 13))
    assert having("strict_canonical_json") == list(range(6, 13))
    assert having("limit_notifications_power_levels") == list(range(6, 13))
    assert having("knock") == list(range(7, 13))
    assert having("restricted_join_rule") == list(range(8, 13))
    assert having("knock_restricted_join_rule") == [10, 11, 12]
    assert having("integer_power_levels") == [10, 11, 12]
    assert having("implicit_room_creator") == [11, 12]
    assert having("redacts_in_content") == [11, 12]
    assert having("room_id_from_create_event") == [12]
    assert having("additional_creators") == [12]
    assert having("privileged_creators") == [12]
    formats = [KNOWN_ROOM_VERSIONS[str(v)].event_id_format for v in (1, 2, 3, 4, 12)]
    assert (
        formats
        == [EventIdFormat.LOCAL] * 2
        + [EventIdFormat.HASH_BASE64]
        + [EventIdFormat.HASH_URLSAFE] * 2
    )
    algorithms = [KNOWN_ROOM_VERSIONS[str(v)].state_res for v in (1, 2, 11, 12)]
    assert algorithms == [
        StateResAlgorithm.V1,
        StateResAlgorithm.V2,
        StateResAlgorithm.V2,
        StateResAlgorithm.V2_1,
    ]
    rules = [KNOWN_ROOM_VERSIONS[str(v)].redaction_rules for v in (5, 6, 8, 9, 10, 11, 12)]
    assert [r.value for r in rules] == ["v1", "v6", "v8", "v9", "v9", "v11", "v11"]
    assert RedactionRules.V11 in rules
    assert KNOWN_ROOM_VERSIONS["5"].max_depth == 2**63 - 1
    assert KNOWN_ROOM_VERSIONS["6"].max_depth == 2**53 - 1
    with pytest.raises(AttributeError):
        KNOWN_ROOM_VERSIONS["1"].knock = True  # type: ignore[misc]


def test_identifier_helpers() -> None:
    assert is_user_id("@a:b.test") and is_user_id("@Historic!:b.test")
    assert not is_user_id("a:b") and not is_user_id(5) and not is_user_id("@a:")
    assert server_name_of("@a:b.test:8448") == "b.test:8448"
    assert server_name_of("$opaque") == ""
    assert room_id_for_create_event("$abc") == "!abc"
    assert create_event_id_for_room("!abc") == "$abc"


def test_frozen_json() -> None:
    value = freeze({"a": [1, {"b": 2}], "c": (3,)})
    assert isinstance(value, FrozenDict) and isinstance(value["a"], FrozenList)
    assert value == {"a": [1, {"b": 2}], "c": [3]}
    assert freeze(value) is value
    assert hash(value) == hash(freeze({"c": [3], "a": [1, {"b": 2}]}))
    for mutate in (
        lambda: value.update(x=1),
        lambda: value.setdefault("x", 1),
        lambda: value["a"].append(1),
        lambda: value["a"].sort(),
    ):
        with pytest.raises(TypeError):
            mutate()
    for plain in (thaw(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert plain == value
    mutable = copy.copy(value)
    mutable["x"] = 1
    assert type(thaw(value)["a"]) is list
    assert isinstance(pickle.loads(pickle.dumps(value)), FrozenDict)


def test_state_map() -> None:
    entries = {("m.room.create", ""): "$c", ("m.room.member", "@a:b"): "$m"}
    state = StateMap(entries)
    entries[("x", "")] = "$x"
    assert len(state) == 2 and ("x", "") not in state
    assert state == StateMap(list(state.items())) and state != {("x", ""): "$x"}
    assert state == dict(state) and hash(state) == hash(StateMap(dict(state)))
    assert "StateMap(" in repr(state)
    assert state.__eq__(5) is NotImplemented
