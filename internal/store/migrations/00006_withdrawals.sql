-- Withdrawal protection: reference prices, the address book and its
-- allow-list, withdrawal requests and what they wait for.

-- +goose Up

-- The last change of each kind the withdrawal cooldowns start from
-- (security_changed_at stays the time of the latest of any kind).
ALTER TABLE accounts ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN mfa_changed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN unfrozen_at BIGINT NOT NULL DEFAULT 0;
-- The kinds of restriction in force, denormalised from restrictions in the
-- same transaction that changes them: introspection reads the account row alone.
ALTER TABLE accounts ADD COLUMN restrictions TEXT NOT NULL DEFAULT '';

-- Restrictions on what an account may do (withdrawals, login, trading),
-- set by staff, an admin key or a monitoring rule; lift_on names an event
-- that lifts it by itself ('verification': an approved verification).
CREATE TABLE restrictions (
    id         TEXT   PRIMARY KEY,
    account_id TEXT   NOT NULL REFERENCES accounts (id),
    kind       TEXT   NOT NULL,
    reason     TEXT   NOT NULL,
    source     TEXT   NOT NULL,
    lift_on    TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL DEFAULT 0,
    lifted_at  BIGINT NOT NULL DEFAULT 0,
    lifted_by  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX restrictions_by_account ON restrictions (account_id, lifted_at);

-- Reference-currency price of one whole unit of an asset, as the platform
-- fed it: a decimal string, so no price is ever a float.
CREATE TABLE prices (
    asset      TEXT   PRIMARY KEY,
    price      TEXT   NOT NULL,
    as_of      BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The address book. status: pending_confirmation (the email link and a
-- second factor not yet given), then on_hold until available_at, then
-- active; deleted rows stay for the record.
CREATE TABLE addresses (
    id                 TEXT   PRIMARY KEY,
    account_id         TEXT   NOT NULL REFERENCES accounts (id),
    asset              TEXT   NOT NULL,
    network            TEXT   NOT NULL,
    address            TEXT   NOT NULL,
    memo               TEXT   NOT NULL DEFAULT '',
    label              TEXT   NOT NULL DEFAULT '',
    status             TEXT   NOT NULL,
    confirm_token_hash TEXT   NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    confirm_by         BIGINT NOT NULL DEFAULT 0,
    confirmed_at       BIGINT NOT NULL DEFAULT 0,
    available_at       BIGINT NOT NULL DEFAULT 0,
    deleted_at         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX addresses_by_account ON addresses (account_id, created_at);
CREATE INDEX addresses_by_token ON addresses (confirm_token_hash);

-- A user's withdrawal settings: the allow-list, and a pending switch-off
-- (confirmed by email, then effective after the same hold as new addresses).
CREATE TABLE withdrawal_settings (
    account_id          TEXT    PRIMARY KEY REFERENCES accounts (id),
    allow_list          BOOLEAN NOT NULL DEFAULT FALSE,
    off_token_hash      TEXT    NOT NULL DEFAULT '',
    off_requested_at    BIGINT  NOT NULL DEFAULT 0,
    off_confirmed_at    BIGINT  NOT NULL DEFAULT 0,
    off_effective_at    BIGINT  NOT NULL DEFAULT 0,
    updated_at          BIGINT  NOT NULL
);
CREATE INDEX withdrawal_settings_by_off_token ON withdrawal_settings (off_token_hash);

-- Withdrawal requests. amount is in the asset's smallest unit,
-- reference_value in the reference currency's; both integers (amount as
-- decimal digits, which no 64-bit column holds for every asset). required and
-- satisfied list the confirmations (second_factor, email).
CREATE TABLE withdrawals (
    id                TEXT   PRIMARY KEY,
    account_id        TEXT   NOT NULL REFERENCES accounts (id),
    asset             TEXT   NOT NULL,
    network           TEXT   NOT NULL,
    address_id        TEXT   NOT NULL DEFAULT '',
    address           TEXT   NOT NULL,
    memo              TEXT   NOT NULL DEFAULT '',
    amount            TEXT   NOT NULL,   -- decimal digits: 18-decimal assets pass 64 bits
    reference_value   BIGINT NOT NULL,
    price             TEXT   NOT NULL,
    status            TEXT   NOT NULL,
    required          TEXT   NOT NULL DEFAULT '',
    satisfied         TEXT   NOT NULL DEFAULT '',
    email_token_hash  TEXT   NOT NULL DEFAULT '',
    mfa_failures      INTEGER NOT NULL DEFAULT 0,
    reasons           TEXT   NOT NULL DEFAULT '',   -- why monitoring held it (rule ids)
    held              BOOLEAN NOT NULL DEFAULT FALSE, -- monitoring asked for a review
    review_reason     TEXT   NOT NULL DEFAULT '',
    reviewer          TEXT   NOT NULL DEFAULT '',
    txid              TEXT   NOT NULL DEFAULT '',
    idempotency_key   TEXT   NOT NULL DEFAULT '',
    request_hash      TEXT   NOT NULL DEFAULT '',
    device_id         TEXT   NOT NULL DEFAULT '',
    ip                TEXT   NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    approved_at       BIGINT NOT NULL DEFAULT 0,
    completed_at      BIGINT NOT NULL DEFAULT 0
);
-- The rolling 24 h limit sums one account's recent requests.
CREATE INDEX withdrawals_by_account ON withdrawals (account_id, created_at);
CREATE INDEX withdrawals_by_status ON withdrawals (status, created_at);
CREATE INDEX withdrawals_by_email_token ON withdrawals (email_token_hash);
CREATE UNIQUE INDEX withdrawals_idempotency ON withdrawals (account_id, idempotency_key) WHERE idempotency_key <> '';

-- +goose Down
DROP TABLE withdrawals;
DROP TABLE withdrawal_settings;
DROP TABLE addresses;
DROP TABLE prices;
DROP TABLE restrictions;
ALTER TABLE accounts DROP COLUMN restrictions;
ALTER TABLE accounts DROP COLUMN unfrozen_at;
ALTER TABLE accounts DROP COLUMN mfa_changed_at;
ALTER TABLE accounts DROP COLUMN password_changed_at;
