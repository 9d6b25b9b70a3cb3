-- Risk-based login: every login's decision, per-device lockout lanes, and
-- what a login challenge still waits for (a confirmation from the email).

-- +goose Up

-- Every login attempt whose password was checked, or refused before that,
-- with the risk decision and its reasons: the account's history for the
-- risk signals, the user's activity, staff's view and the dashboard.
CREATE TABLE login_events (
    id              TEXT             PRIMARY KEY,
    account_id      TEXT             NOT NULL DEFAULT '',  -- '' for an unknown email
    occurred_at     BIGINT           NOT NULL,
    ip              TEXT             NOT NULL DEFAULT '',
    device_id       TEXT             NOT NULL DEFAULT '',
    outcome         TEXT             NOT NULL,             -- succeeded, failed, challenged, denied, locked
    reasons         TEXT             NOT NULL DEFAULT '',  -- comma-separated reason codes
    score           INTEGER          NOT NULL DEFAULT 0,
    country         TEXT             NOT NULL DEFAULT '',
    city            TEXT             NOT NULL DEFAULT '',
    latitude        DOUBLE PRECISION NOT NULL DEFAULT 0,
    longitude       DOUBLE PRECISION NOT NULL DEFAULT 0,
    has_coordinates BOOLEAN          NOT NULL DEFAULT FALSE,
    asn             BIGINT           NOT NULL DEFAULT 0
);
CREATE INDEX login_events_by_account ON login_events (account_id, occurred_at);
CREATE INDEX login_events_by_ip ON login_events (ip, occurred_at);

-- Failure counts per account and lane (one per trusted device, one shared
-- by every untrusted device), with the lock they lead to.
CREATE TABLE lockout_lanes (
    account_id   TEXT    NOT NULL,
    lane         TEXT    NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locks        INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL,
    -- password checks running now that took one of the tries left, so that
    -- guesses sent at once cannot outrun the count; forgotten after pending_until
    pending       INTEGER NOT NULL DEFAULT 0,
    pending_until BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, lane)
);

-- A login challenge may need the owner's confirmation from the new-device
-- email as well as (or instead of) a second factor.
ALTER TABLE mfa_challenges ADD COLUMN requires TEXT NOT NULL DEFAULT 'second_factor';
ALTER TABLE mfa_challenges ADD COLUMN satisfied TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_challenges ADD COLUMN email_token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_challenges ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_challenges ADD COLUMN login_event_id TEXT NOT NULL DEFAULT '';
-- When the second factor was proven: the step-up window starts then, not
-- when a later email confirmation lets the session start.
ALTER TABLE mfa_challenges ADD COLUMN factor_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX mfa_challenges_by_email_token ON mfa_challenges (email_token_hash);

-- Where a device was last seen, for the devices page and the emails.
ALTER TABLE devices ADD COLUMN last_place TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE devices DROP COLUMN last_place;
DROP INDEX mfa_challenges_by_email_token;
ALTER TABLE mfa_challenges DROP COLUMN factor_at;
ALTER TABLE mfa_challenges DROP COLUMN login_event_id;
ALTER TABLE mfa_challenges DROP COLUMN device_id;
ALTER TABLE mfa_challenges DROP COLUMN email_token_hash;
ALTER TABLE mfa_challenges DROP COLUMN satisfied;
ALTER TABLE mfa_challenges DROP COLUMN requires;
DROP TABLE lockout_lanes;
DROP TABLE login_events;
