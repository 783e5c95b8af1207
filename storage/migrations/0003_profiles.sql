-- Profile fields of local users (displayname, avatar_url, m.tz and custom namespaced keys).
CREATE TABLE profile_fields (
    user_id  TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    field    TEXT NOT NULL,
    value    JSONB NOT NULL,
    PRIMARY KEY (user_id, field)
);
