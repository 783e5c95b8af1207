-- Rooms and their event DAG, state snapshots, current state and memberships.

CREATE TABLE rooms (
    room_id       TEXT PRIMARY KEY,
    room_version  TEXT NOT NULL,
    creator       TEXT NOT NULL,
    created_ts    BIGINT NOT NULL
);

-- Every event once, as the canonical JSON it was created or received as. `stream_ordering`
-- is the position on the room-events stream (sync and pagination tokens build on it);
-- history is ordered topologically by (depth, stream_ordering).
CREATE TABLE events (
    stream_ordering   BIGINT PRIMARY KEY,
    event_id          TEXT NOT NULL UNIQUE,
    room_id           TEXT NOT NULL,
    type              TEXT NOT NULL,
    state_key         TEXT,
    sender            TEXT NOT NULL,
    depth             BIGINT NOT NULL,
    origin_server_ts  BIGINT NOT NULL,
    contains_url      BOOLEAN NOT NULL DEFAULT FALSE,
    outlier           BOOLEAN NOT NULL DEFAULT FALSE,
    rejected_reason   TEXT,
    state_group       BIGINT,
    json              TEXT NOT NULL
);
CREATE INDEX events_room_topological ON events (room_id, depth, stream_ordering);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);

CREATE TABLE event_edges (
    event_id       TEXT NOT NULL,
    prev_event_id  TEXT NOT NULL,
    PRIMARY KEY (event_id, prev_event_id)
);
CREATE INDEX event_edges_prev ON event_edges (prev_event_id);

CREATE TABLE event_auth (
    event_id  TEXT NOT NULL,
    auth_id   TEXT NOT NULL,
    PRIMARY KEY (event_id, auth_id)
);

-- The events of a room that no other event references yet: the prev_events of the next one.
CREATE TABLE forward_extremities (
    room_id   TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- State snapshots share structure: a group is a delta on `prev_group`, and chains are kept
-- short (`delta_depth` bounded) by writing a full snapshot now and then. A message reuses
-- the group of the state it was sent in, so storage per message does not grow with room size.
CREATE TABLE state_groups (
    id           BIGSERIAL PRIMARY KEY,
    room_id      TEXT NOT NULL,
    prev_group   BIGINT REFERENCES state_groups (id),
    delta_depth  INTEGER NOT NULL
);

CREATE TABLE state_group_entries (
    state_group  BIGINT NOT NULL REFERENCES state_groups (id),
    type         TEXT NOT NULL,
    state_key    TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    PRIMARY KEY (state_group, type, state_key)
);

CREATE TABLE current_state (
    room_id          TEXT NOT NULL,
    type             TEXT NOT NULL,
    state_key        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    stream_ordering  BIGINT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
);

-- Current membership of every user known to each room, for "which rooms is this user in"
-- and "who is in this room" without reading state.
CREATE TABLE room_memberships (
    room_id          TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    membership       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    stream_ordering  BIGINT NOT NULL,
    display_name     TEXT,
    avatar_url       TEXT,
    forgotten        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_memberships_user ON room_memberships (user_id, membership);

-- Client transaction IDs, so a retried PUT returns the event it created the first time.
CREATE TABLE event_txn_ids (
    user_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    txn_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    created_ts  BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
CREATE INDEX event_txn_ids_event ON event_txn_ids (event_id);

CREATE TABLE redactions (
    event_id  TEXT PRIMARY KEY,
    redacts   TEXT NOT NULL
);
CREATE INDEX redactions_redacts ON redactions (redacts);

-- Positions on the room-events stream. Allocated by the one event-writer process, which
-- tracks which positions are still in flight so readers never skip an uncommitted one.
CREATE SEQUENCE events_stream_ordering_seq;
