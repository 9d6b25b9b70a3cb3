-- Accounts, sessions, single-use email tokens, devices (as far as sessions
-- need them) and the counters that guard logins.

-- +goose Up

-- Users of the platform and the platform's staff live side by side but in
-- separate realms: a staff login never opens the user API, nor the reverse.
CREATE TABLE accounts (
    id                 TEXT    PRIMARY KEY,
    realm              TEXT    NOT NULL,            -- 'user' or 'staff'
    email              TEXT    NOT NULL,            -- as given, trimmed, domain in lower case
    email_key          TEXT    NOT NULL,            -- fully lower-cased: what makes an email unique
    email_verified_at  BIGINT  NOT NULL DEFAULT 0,
    password_hash      TEXT    NOT NULL,            -- Argon2id, PHC string
    staff_role         TEXT    NOT NULL DEFAULT '',
    -- Set for a one-time password (a new staff account): the next login must choose another.
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    anti_phishing_code TEXT    NOT NULL DEFAULT '',
    frozen_at          BIGINT  NOT NULL DEFAULT 0,
    frozen_reason      TEXT    NOT NULL DEFAULT '',
    -- The last password change or reset, 2FA change and so on: withdrawals
    -- honour it as a cooldown.
    security_changed_at BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT  NOT NULL,
    UNIQUE (realm, email_key)
);

-- Tokens sent by email (verification, password reset, freeze): only their
-- SHA-256 is kept, each is for one purpose and one account, and used once.
CREATE TABLE email_tokens (
    token_hash TEXT   PRIMARY KEY,
    account_id TEXT   NOT NULL REFERENCES accounts (id),
    purpose    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX email_tokens_by_account ON email_tokens (account_id, purpose);

-- A browser or app, recognised by its device token (only the hash is kept).
CREATE TABLE devices (
    id            TEXT   PRIMARY KEY,
    account_id    TEXT   NOT NULL REFERENCES accounts (id),
    token_hash    TEXT   NOT NULL UNIQUE,
    user_agent    TEXT   NOT NULL DEFAULT '',
    first_seen_at BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    last_ip       TEXT   NOT NULL DEFAULT '',
    trusted_at    BIGINT NOT NULL DEFAULT 0,
    forgotten_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_by_account ON devices (account_id);

-- Sessions: only the SHA-256 of the token is kept.
CREATE TABLE sessions (
    id           TEXT   PRIMARY KEY,
    token_hash   TEXT   NOT NULL UNIQUE,
    account_id   TEXT   NOT NULL REFERENCES accounts (id),
    realm        TEXT   NOT NULL,
    aal          TEXT   NOT NULL,
    device_id    TEXT   NOT NULL DEFAULT '',
    ip           TEXT   NOT NULL DEFAULT '',
    user_agent   TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,               -- absolute limit
    revoked_at   BIGINT NOT NULL DEFAULT 0,
    revoke_reason TEXT  NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_account ON sessions (account_id, revoked_at);

-- Token buckets for rate limits that several nodes must share (logins,
-- registrations, resets): tokens are thousandths, refilled on read.
CREATE TABLE rate_buckets (
    bucket     TEXT   PRIMARY KEY,
    tokens     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rate_buckets_by_updated_at ON rate_buckets (updated_at);

-- +goose Down
DROP TABLE rate_buckets;
DROP TABLE sessions;
DROP TABLE devices;
DROP TABLE email_tokens;
DROP TABLE accounts;
