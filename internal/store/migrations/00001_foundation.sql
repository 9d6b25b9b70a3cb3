-- One SQL text for SQLite and PostgreSQL: portable types only. Instants are
-- BIGINT microseconds since the Unix epoch (UTC); ids are opaque TEXT made by
-- Warden; binary values are BYTEA (SQLite stores them as blobs).

-- +goose Up

-- Rows whose only purpose is to be locked FOR UPDATE (see Tx.Lock).
CREATE TABLE subject_locks (
    subject TEXT PRIMARY KEY
);

-- The audit log: one hash chain per subject (a user, an admin key, the system),
-- so that writers for unrelated subjects never wait for each other.
CREATE TABLE audit_records (
    -- Random 128-bit ids need no unique index: one would dirty a random
    -- page on every append, and nothing looks records up by id alone.
    id          TEXT   NOT NULL,
    chain       TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    user_id     TEXT   NOT NULL DEFAULT '',
    ip          TEXT   NOT NULL DEFAULT '',
    request_id  TEXT   NOT NULL DEFAULT '',
    data        TEXT   NOT NULL DEFAULT '{}',
    prev_hash   TEXT   NOT NULL,
    hash        TEXT   NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_records_by_time ON audit_records (occurred_at, id);
-- A user's records are their chain: listing them uses the primary key.
CREATE INDEX audit_records_by_action ON audit_records (action, occurred_at);

-- The last record of each chain. Appending locks this row, which is what
-- orders the writers of one chain.
CREATE TABLE audit_heads (
    chain            TEXT   PRIMARY KEY,
    seq              BIGINT NOT NULL,
    hash             TEXT   NOT NULL,
    checkpointed_seq BIGINT NOT NULL DEFAULT 0
);
-- No index for finding unsealed heads: the checkpoint compares two columns,
-- which an index cannot serve, and every append would rewrite its entry.

-- Periodic global checkpoints: a chain of their own over the heads of every
-- chain that grew since the previous checkpoint, authenticated with a key
-- derived from WARDEN_SECRET_KEY. Someone with write access to the database
-- alone can recompute a record chain, but not a checkpoint.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    heads      TEXT   NOT NULL,
    prev_mac   TEXT   NOT NULL,
    key_id     TEXT   NOT NULL,
    mac        TEXT   NOT NULL
);

-- The transactional outbox: emails and webhooks, written in the transaction
-- of the action that causes them, delivered at least once by workers.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL,
    topic           TEXT    NOT NULL DEFAULT '',
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    delivered_at    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Mail kept by `serve --dev` instead of being sent; shown at /dev/mailbox.
CREATE TABLE dev_mailbox (
    id          TEXT   PRIMARY KEY,
    message_id  TEXT   NOT NULL UNIQUE,
    received_at BIGINT NOT NULL,
    mail_from   TEXT   NOT NULL,
    mail_to     TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    text_body   TEXT   NOT NULL,
    html_body   TEXT   NOT NULL
);

-- Admin API keys: only the SHA-256 of the key is kept.
CREATE TABLE admin_keys (
    id           TEXT   PRIMARY KEY,
    name         TEXT   NOT NULL,
    key_hash     TEXT   NOT NULL UNIQUE,
    scopes       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT NOT NULL DEFAULT 0
);

-- Webhook endpoints. The signing secret must be recoverable to sign, so it is
-- encrypted at rest, bound to this table, column and row.
CREATE TABLE webhook_endpoints (
    id          TEXT    PRIMARY KEY,
    url         TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    event_types TEXT    NOT NULL,
    secret      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    deleted_at  BIGINT  NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE webhook_endpoints;
DROP TABLE admin_keys;
DROP TABLE dev_mailbox;
DROP TABLE outbox;
DROP TABLE audit_checkpoints;
DROP TABLE audit_heads;
DROP TABLE audit_records;
DROP TABLE subject_locks;
