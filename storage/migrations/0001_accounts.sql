-- Accounts, devices and the tokens that authenticate them.

CREATE TABLE users (
    user_id        TEXT PRIMARY KEY,
    password_hash  TEXT,
    is_admin       BOOLEAN NOT NULL DEFAULT FALSE,
    is_guest       BOOLEAN NOT NULL DEFAULT FALSE,
    user_type      TEXT,
    deactivated    BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts     BIGINT NOT NULL
);

CREATE TABLE devices (
    user_id               TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id             TEXT NOT NULL,
    display_name          TEXT,
    created_ts            BIGINT NOT NULL,
    last_seen_ts          BIGINT,
    last_seen_ip          TEXT,
    last_seen_user_agent  TEXT,
    PRIMARY KEY (user_id, device_id)
);

-- Refresh tokens form a chain: `next_token_id` points at the token a refresh produced,
-- so the predecessor can be revoked once its successor is used (spec: refreshing tokens).
CREATE TABLE refresh_tokens (
    id             BIGSERIAL PRIMARY KEY,
    token_hash     BYTEA NOT NULL UNIQUE,
    user_id        TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    expires_ts     BIGINT,
    next_token_id  BIGINT REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    created_ts     BIGINT NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_next ON refresh_tokens (next_token_id);

-- Only a SHA-256 of each access token is stored: a database leak yields no usable token.
CREATE TABLE access_tokens (
    id                BIGSERIAL PRIMARY KEY,
    token_hash        BYTEA NOT NULL UNIQUE,
    user_id           TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id         TEXT NOT NULL,
    expires_ts        BIGINT,
    refresh_token_id  BIGINT REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    created_ts        BIGINT NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);
CREATE INDEX access_tokens_refresh ON access_tokens (refresh_token_id);

-- User-interactive auth: a session remembers which stages are done and what it protects.
CREATE TABLE uia_sessions (
    session_id   TEXT PRIMARY KEY,
    uri          TEXT NOT NULL,
    method       TEXT NOT NULL,
    user_id      TEXT,
    clientdict   JSONB NOT NULL DEFAULT '{}',
    completed    JSONB NOT NULL DEFAULT '{}',
    server_data  JSONB NOT NULL DEFAULT '{}',
    created_ts   BIGINT NOT NULL
);
CREATE INDEX uia_sessions_created ON uia_sessions (created_ts);
