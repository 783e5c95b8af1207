-- Delivery state of each pusher: the events-stream position up to which its user's
-- notifications have been sent to the gateway (advanced after each success, so a restart
-- resumes there), when a send last succeeded, and since when sends have been failing.
-- Existing pushers start from now: they deliver only what comes after this migration.
ALTER TABLE pushers
    ADD COLUMN last_stream_ordering BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN last_success_ts      BIGINT,
    ADD COLUMN failing_since        BIGINT;
UPDATE pushers SET last_stream_ordering = (SELECT COALESCE(MAX(stream_ordering), 0) FROM events);
-- No default from here on: a pusher that started at 0 would replay its user's history.
ALTER TABLE pushers ALTER COLUMN last_stream_ordering DROP DEFAULT;
