-- Per-user account data, global (room_id = '') and per room. Each write takes the next
-- position on the account-data stream so /sync can send what changed since a token.
CREATE SEQUENCE account_data_stream_seq;

CREATE TABLE account_data (
    user_id    TEXT NOT NULL,
    room_id    TEXT NOT NULL DEFAULT '',
    type       TEXT NOT NULL,
    content    JSONB NOT NULL,
    stream_id  BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_id);
