from __future__ import annotations

from homeserver.types.room_versions import (
    DEFAULT_ROOM_VERSION,
    ROOM_VERSIONS,
    EventIdFormat,
    StateResAlgorithm,
)


def test_every_version_1_to_12_is_known_and_stable() -> None:
    assert sorted(ROOM_VERSIONS, key=int) == [str(n) for n in range(1, 13)]
    assert all(v.stable for v in ROOM_VERSIONS.values())
    assert DEFAULT_ROOM_VERSION in ROOM_VERSIONS


def test_feature_matrix_matches_the_spec() -> None:
    def having(feature: str) -> list[str]:
        return [k for k, v in ROOM_VERSIONS.items() if getattr(v, feature)]

    assert having("knock") == [str(n) for n in range(7, 13)]
    assert having("restricted_join_rule") == [str(n) for n in range(8, 13)]
    assert having("knock_restricted_join_rule") == ["10", "11", "12"]
    assert having("additional_creators") == ["12"]
    assert having("strict_canonical_json") == [str(n) for n in range(6, 13)]
    assert having("integer_power_levels") == ["10", "11", "12"]
    assert ROOM_VERSIONS["1"].state_res is StateResAlgorithm.V1
    assert ROOM_VERSIONS["2"].event_id_format is EventIdFormat.LOCAL
    assert ROOM_VERSIONS["3"].event_id_format is EventIdFormat.HASH_BASE64
    assert ROOM_VERSIONS["4"].event_id_format is EventIdFormat.HASH_URLSAFE
