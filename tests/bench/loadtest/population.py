"""Who exists and which rooms they share: a plan drawn from a seed, so a saved state file
matches the same plan on every run."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PopulationSpec:
    users: int = 30_000
    dms: int = 5_000
    groups: int = 300
    group_size: int = 10
    big_rooms: tuple[int, ...] = (1_000, 750, 500)
    history_dm: int = 3
    history_group: int = 10
    history_big: int = 50
    # The first big room gets this many messages, for the /messages pagination probe.
    history_pagination: int = 1_000
    seed: int = 1

    def as_json(self) -> dict[str, object]:
        raw = asdict(self)
        raw["big_rooms"] = list(self.big_rooms)
        return raw


@dataclass(frozen=True)
class PlannedRoom:
    kind: str  # "dm", "group" or "big"
    members: tuple[int, ...]  # user indexes; the first creates the room
    history: int


def plan_rooms(spec: PopulationSpec) -> list[PlannedRoom]:
    """Big rooms first (the pagination room is index 0), then groups, then DMs."""
    if spec.users < 2:
        raise ValueError("at least two users are needed")
    rng = random.Random(spec.seed)
    everyone = range(spec.users)
    rooms: list[PlannedRoom] = []
    for n, size in enumerate(spec.big_rooms):
        history = spec.history_pagination if n == 0 else spec.history_big
        members = tuple(rng.sample(everyone, min(size, spec.users)))
        rooms.append(PlannedRoom("big", members, history))
    for _ in range(spec.groups):
        members = tuple(rng.sample(everyone, min(spec.group_size, spec.users)))
        rooms.append(PlannedRoom("group", members, spec.history_group))
    for _ in range(spec.dms):
        rooms.append(PlannedRoom("dm", tuple(rng.sample(everyone, 2)), spec.history_dm))
    return rooms


def pick_active(rooms: list[PlannedRoom], users: int, active: int, seed: int) -> list[int]:
    """Active users are drawn from those in at least one room, so their syncs see traffic."""
    in_rooms = sorted({member for room in rooms for member in room.members})
    rng = random.Random(seed + 1)
    if active <= len(in_rooms):
        return sorted(rng.sample(in_rooms, active))
    rest = sorted(set(range(users)) - set(in_rooms))
    return sorted(in_rooms + rng.sample(rest, min(active - len(in_rooms), len(rest))))
