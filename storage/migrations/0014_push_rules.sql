-- Push rules (spec: Push Rules). A user's own rules and the user's changes to the
-- server-default rules are stored apart: the defaults themselves live in code, so a
-- default added by a new release reaches every existing user, and a user who changed one
-- default keeps that change and nothing else of the old set.
CREATE SEQUENCE push_rules_stream_seq;

-- The user's own rules. `priority` orders the rules of one kind, lowest first (the most
-- important); it is renumbered on inserts relative to another rule, so only its order
-- means anything. `conditions` is set for override and underride rules, `pattern` for
-- content rules; room and sender rules take their condition from their rule ID.
CREATE TABLE push_rules (
    user_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('override', 'content', 'room', 'sender', 'underride')),
    rule_id     TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    conditions  JSONB,
    pattern     TEXT,
    actions     JSONB NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (user_id, kind, rule_id)
);

-- The user's changes to server-default rules: NULL leaves that attribute as the default.
CREATE TABLE push_rule_default_changes (
    user_id  TEXT NOT NULL,
    rule_id  TEXT NOT NULL,
    enabled  BOOLEAN,
    actions  JSONB,
    PRIMARY KEY (user_id, rule_id)
);

-- The push-rules stream: the position of each user's latest change.
CREATE TABLE push_rules_positions (
    user_id    TEXT PRIMARY KEY,
    stream_id  BIGINT NOT NULL
);
CREATE INDEX push_rules_positions_stream ON push_rules_positions (stream_id);
