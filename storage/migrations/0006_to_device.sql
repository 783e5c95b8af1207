-- Send-to-device messages queued per recipient device until it syncs past them.
CREATE SEQUENCE to_device_stream_seq;

CREATE TABLE device_inbox (
    stream_id   BIGINT NOT NULL,
    user_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    sender      TEXT NOT NULL,
    type        TEXT NOT NULL,
    content     JSONB NOT NULL,
    PRIMARY KEY (user_id, device_id, stream_id)
);
CREATE INDEX device_inbox_stream ON device_inbox (stream_id);

-- Transaction IDs of /sendToDevice, so a retried request is not delivered twice.
CREATE TABLE to_device_txns (
    user_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    txn_id      TEXT NOT NULL,
    created_ts  BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
