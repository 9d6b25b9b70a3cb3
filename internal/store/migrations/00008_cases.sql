-- Cases for staff: a user's report of a compromised account, with what
-- Warden knew of the account at that moment; and the time indexes the staff
-- dashboard counts by.

-- +goose Up

-- A case is opened by a user's report and resolved by staff. While it is
-- open, further reports of the same user are added to it (case_reports).
CREATE TABLE cases (
    id            TEXT    PRIMARY KEY,
    account_id    TEXT    NOT NULL REFERENCES accounts (id),
    kind          TEXT    NOT NULL,               -- user_report
    status        TEXT    NOT NULL,               -- open, resolved
    froze         BOOLEAN NOT NULL DEFAULT FALSE, -- a report froze the account
    resolution    TEXT    NOT NULL DEFAULT '',    -- compromised, not_compromised, inconclusive
    user_note     TEXT    NOT NULL DEFAULT '',    -- staff's words to the user, shown to them
    internal_note TEXT    NOT NULL DEFAULT '',    -- staff's words to staff
    resolved_by   TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    resolved_at   BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX cases_by_status ON cases (status, created_at);
CREATE INDEX cases_by_account ON cases (account_id, created_at);

-- One report: the user's words, how they reached us, and a snapshot (JSON)
-- of their recent logins with the decisions, devices, sessions and
-- withdrawals, taken before the report froze the account. access_hash is
-- the SHA-256 of the token that lets the reporter, who has no session any
-- more, follow the case until access_expires_at.
CREATE TABLE case_reports (
    id                TEXT    PRIMARY KEY,
    case_id           TEXT    NOT NULL REFERENCES cases (id),
    account_id        TEXT    NOT NULL REFERENCES accounts (id),
    statement         TEXT    NOT NULL,
    via               TEXT    NOT NULL,               -- session, freeze_link, report_link, case_link
    ip                TEXT    NOT NULL DEFAULT '',
    user_agent        TEXT    NOT NULL DEFAULT '',
    froze             BOOLEAN NOT NULL DEFAULT FALSE,
    snapshot          TEXT    NOT NULL DEFAULT '{}',
    access_hash       TEXT    NOT NULL DEFAULT '',
    access_expires_at BIGINT  NOT NULL DEFAULT 0,
    created_at        BIGINT  NOT NULL
);
CREATE INDEX case_reports_by_case ON case_reports (case_id, created_at);
CREATE INDEX case_reports_by_access ON case_reports (access_hash);

-- The dashboard counts the last 24 hours to 30 days by hour or day; these
-- keep it from reading whole tables. Times only grow, so each insert
-- touches the index's last page.
CREATE INDEX login_events_by_time ON login_events (occurred_at);
CREATE INDEX withdrawals_by_time ON withdrawals (created_at);
CREATE INDEX alerts_by_time ON alerts (created_at);

-- +goose Down
DROP INDEX alerts_by_time;
DROP INDEX withdrawals_by_time;
DROP INDEX login_events_by_time;
DROP TABLE case_reports;
DROP TABLE cases;
