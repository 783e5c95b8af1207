-- What push rules decided for each local recipient of an event that notifies them:
-- the source of unread counts, GET /notifications and delivery to push gateways.
-- Events whose actions do not notify leave no row. thread_id is 'main' for the main
-- timeline or the thread's root event ID, as in threaded read receipts.
CREATE TABLE event_push_actions (
    user_id          TEXT NOT NULL,
    room_id          TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    stream_ordering  BIGINT NOT NULL,
    thread_id        TEXT NOT NULL,
    highlight        BOOLEAN NOT NULL,
    actions          JSONB NOT NULL,
    ts               BIGINT NOT NULL,
    PRIMARY KEY (user_id, stream_ordering)
);
CREATE INDEX event_push_actions_room ON event_push_actions (user_id, room_id, stream_ordering);
CREATE INDEX event_push_actions_highlight ON event_push_actions (user_id, stream_ordering)
    WHERE highlight;

-- Every event up to this events-stream position has been evaluated: after a crash, the
-- events after it are evaluated again (their rows are written idempotently).
CREATE TABLE push_evaluation_progress (
    only_row  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    upto      BIGINT NOT NULL
);
INSERT INTO push_evaluation_progress (upto) SELECT COALESCE(MAX(stream_ordering), 0) FROM events;
