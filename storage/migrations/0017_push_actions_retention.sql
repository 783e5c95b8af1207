-- Old notifications are pruned by age: rows arrive in time order, so a BRIN index finds
-- the old ones at almost no cost to the many inserts.
CREATE INDEX event_push_actions_ts ON event_push_actions USING brin (ts);
