-- Identity verification (KYC): a user's verifications, their documents, and
-- the external providers' results already taken (against replays).

-- +goose Up

-- The tier reached, denormalised from the approved verification in the same
-- transaction: limits and the session's answer read the account row alone.
ALTER TABLE accounts ADD COLUMN verification_tier INTEGER NOT NULL DEFAULT 0;

-- One row per attempt at verification. purpose is 'tier' (reach a tier) or
-- 'mfa_reset' (prove who you are to have a lost second factor removed).
-- The personal information is sealed (AES-256-GCM) and bound to this table,
-- column and row id. After a final decision the row stays for good: the
-- decision, who made it, and the documents' hashes are the record.
CREATE TABLE verifications (
    id              TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    purpose         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    target_tier     INTEGER NOT NULL DEFAULT 0,
    personal_info   BYTEA,
    info_key_id     TEXT    NOT NULL DEFAULT '',
    resubmit        TEXT    NOT NULL DEFAULT '',   -- items asked again, comma-separated
    reason          TEXT    NOT NULL DEFAULT '',   -- shown to the user with a rejection
    reviewer        TEXT    NOT NULL DEFAULT '',   -- staff:<id>, key:<id> or provider:<name>
    provider_ref    TEXT    NOT NULL DEFAULT '',
    -- SHA-256 of the token that lets a 2FA reset's owner, who cannot log
    -- in, upload and submit; empty for tier verifications.
    access_hash     TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    submitted_at    BIGINT  NOT NULL DEFAULT 0,
    decided_at      BIGINT  NOT NULL DEFAULT 0,
    documents_purged_at BIGINT NOT NULL DEFAULT 0,
    -- A 2FA reset's waiting period, once approved.
    effective_at    BIGINT  NOT NULL DEFAULT 0,
    reminded_at     BIGINT  NOT NULL DEFAULT 0,
    completed_at    BIGINT  NOT NULL DEFAULT 0,
    cancelled_at    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX verifications_by_account ON verifications (account_id, purpose, created_at);
CREATE INDEX verifications_by_status ON verifications (status, submitted_at);
CREATE INDEX verifications_by_access ON verifications (access_hash);

-- Uploaded documents and selfies: the cleaned bytes (metadata stripped),
-- sealed and bound to this table, column and row id; content is NULL once
-- purged, while the hash stays. A replaced upload is kept until retention
-- purges its verification, so a reviewer can see what changed.
CREATE TABLE verification_documents (
    id              TEXT    PRIMARY KEY,
    verification_id TEXT    NOT NULL REFERENCES verifications (id),
    account_id      TEXT    NOT NULL REFERENCES accounts (id),
    kind            TEXT    NOT NULL,   -- passport, id_card, drivers_license, selfie
    side            TEXT    NOT NULL DEFAULT '',
    media_type      TEXT    NOT NULL,
    sha256          TEXT    NOT NULL,   -- of the cleaned bytes
    size            BIGINT  NOT NULL,
    width           INTEGER NOT NULL DEFAULT 0,
    height          INTEGER NOT NULL DEFAULT 0,
    content         BYTEA,
    key_id          TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    replaced_at     BIGINT  NOT NULL DEFAULT 0,
    purged_at       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX verification_documents_by_verification ON verification_documents (verification_id);

-- Signed results from external KYC providers, by the provider's message id:
-- a result is taken once, so a captured request cannot be played again.
CREATE TABLE provider_messages (
    provider    TEXT   NOT NULL,
    message_id  TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, message_id)
);

-- +goose Down
DROP TABLE provider_messages;
DROP TABLE verification_documents;
DROP TABLE verifications;
ALTER TABLE accounts DROP COLUMN verification_tier;
