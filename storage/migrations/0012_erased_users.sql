-- Users who deactivated with `erase` (spec: POST /account/deactivate): their messages are
-- shown redacted to anyone who was not in the room when they were sent.
ALTER TABLE users ADD COLUMN erased BOOLEAN NOT NULL DEFAULT FALSE;
