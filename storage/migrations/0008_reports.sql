-- Content reports from users, for server admins.
CREATE TABLE reports (
    id           BIGSERIAL PRIMARY KEY,
    reporter     TEXT NOT NULL,
    room_id      TEXT NOT NULL,
    event_id     TEXT,
    reason       TEXT,
    score        INTEGER,
    received_ts  BIGINT NOT NULL
);
CREATE INDEX reports_received ON reports (received_ts);
