-- Second factors: authenticator-app secrets, recovery codes, passkeys, and
-- the short-lived challenges that ask for one of them.

-- +goose Up

-- Denormalised from the factors below, in the same transaction that changes
-- them, so that a login decides "challenge or not" from the account row alone.
ALTER TABLE accounts ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE;

-- When a second factor was last proven in the session (login or step-up).
ALTER TABLE sessions ADD COLUMN mfa_at BIGINT NOT NULL DEFAULT 0;

-- One authenticator-app secret per account: pending until a first code
-- confirms it. The secret is sealed (AES-256-GCM) and bound to this table,
-- column and account id, so a copy on another row does not open.
CREATE TABLE totp_secrets (
    account_id   TEXT   PRIMARY KEY REFERENCES accounts (id),
    secret       BYTEA  NOT NULL,
    key_id       TEXT   NOT NULL,           -- the master key that sealed it, for rotation
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT NOT NULL DEFAULT 0,
    -- The newest time step accepted: a code is good once, even in a race.
    last_step    BIGINT NOT NULL DEFAULT 0
);

-- Recovery codes, as keyed hashes (HMAC-SHA-256 under a key derived from
-- WARDEN_SECRET_KEY): the database alone cannot test guesses.
CREATE TABLE recovery_codes (
    account_id TEXT   NOT NULL REFERENCES accounts (id),
    code_hash  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, code_hash)
);

-- Passkeys (WebAuthn credentials). credential holds the library's JSON:
-- public key, sign count, flags, AAGUID and transports; nothing secret.
CREATE TABLE passkeys (
    id            TEXT   PRIMARY KEY,
    account_id    TEXT   NOT NULL REFERENCES accounts (id),
    credential_id BYTEA  NOT NULL UNIQUE,
    name          TEXT   NOT NULL,
    credential    BYTEA  NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- A pending request for a second factor: a login's, a step-up's, or a
-- passkey registration's. Only the SHA-256 of its id is kept.
CREATE TABLE mfa_challenges (
    id_hash    TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    purpose    TEXT    NOT NULL,
    session_id TEXT    NOT NULL DEFAULT '',   -- step-up and registration: the session asking
    methods    TEXT    NOT NULL DEFAULT '',   -- comma-separated
    state      BYTEA   NOT NULL,              -- a WebAuthn ceremony's state, or empty
    failures   INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges (expires_at);

-- +goose Down
DROP TABLE mfa_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp_secrets;
ALTER TABLE sessions DROP COLUMN mfa_at;
ALTER TABLE accounts DROP COLUMN mfa_enabled;
