-- Redactions carry their own stream position and only accepted ones are kept, so finding an
-- event's redaction reads this table alone: joining back to events made the planner pick
-- a scan of events per row whenever its statistics were stale.
ALTER TABLE redactions ADD COLUMN stream_ordering BIGINT;
UPDATE redactions r SET stream_ordering = e.stream_ordering
FROM events e WHERE e.event_id = r.event_id;
DELETE FROM redactions r
USING events e WHERE e.event_id = r.event_id AND e.rejected_reason IS NOT NULL;
DELETE FROM redactions WHERE stream_ordering IS NULL;
ALTER TABLE redactions ALTER COLUMN stream_ordering SET NOT NULL;
DROP INDEX redactions_redacts;
CREATE INDEX redactions_redacts ON redactions (redacts, stream_ordering);
