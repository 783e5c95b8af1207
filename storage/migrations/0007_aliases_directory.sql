-- Room aliases of this server and the public room directory.
CREATE TABLE room_aliases (
    alias       TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL,
    creator     TEXT NOT NULL,
    created_ts  BIGINT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

CREATE TABLE room_directory (
    room_id       TEXT PRIMARY KEY,
    published_ts  BIGINT NOT NULL
);
