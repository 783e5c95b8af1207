-- Filters uploaded by clients (POST /user/{userId}/filter), numbered per user.
CREATE TABLE user_filters (
    user_id    TEXT NOT NULL,
    filter_id  BIGINT NOT NULL,
    filter     JSONB NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);
