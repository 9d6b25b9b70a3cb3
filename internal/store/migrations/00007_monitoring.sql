-- Transaction monitoring: events, rule sets, alerts.

-- +goose Up

-- Events, Warden's own (source 'warden') and the platform's ('platform'),
-- idempotent on id. value is in the reference currency's smallest unit;
-- amount as the decimal digits given. evaluated is cleared until the rules
-- have looked at the event (a withdrawal's is evaluated before its answer).
CREATE TABLE events (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES accounts (id),
    type        TEXT    NOT NULL,
    asset       TEXT    NOT NULL DEFAULT '',
    amount      TEXT    NOT NULL DEFAULT '',
    value       BIGINT  NOT NULL DEFAULT 0,
    occurred_at BIGINT  NOT NULL,
    attributes  TEXT    NOT NULL DEFAULT '{}',
    source      TEXT    NOT NULL,
    received_at BIGINT  NOT NULL,
    evaluated   BOOLEAN NOT NULL DEFAULT FALSE
);
-- The aggregates: one user's events of one type in a window.
CREATE INDEX events_by_user_type ON events (user_id, type, occurred_at);
-- The evaluation queue.
CREATE INDEX events_pending ON events (received_at) WHERE NOT evaluated;
-- Backtests replay by time.
CREATE INDEX events_by_time ON events (occurred_at);

-- Every version of the rules, the newest in force.
CREATE TABLE rule_sets (
    version    INTEGER PRIMARY KEY,
    source     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    created_by TEXT    NOT NULL
);

-- An alert is a rule that fired on an event (shadow rules' too, marked).
CREATE TABLE alerts (
    id           TEXT    PRIMARY KEY,
    rule_id      TEXT    NOT NULL,
    rule_version INTEGER NOT NULL,
    event_id     TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    user_id      TEXT    NOT NULL REFERENCES accounts (id),
    action       TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    mode         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    aggregates   TEXT    NOT NULL DEFAULT '{}',  -- the aggregate values that made it fire
    context      TEXT    NOT NULL DEFAULT '{}',  -- the event and the user as the rule saw them
    status       TEXT    NOT NULL,               -- open, resolved
    resolution   TEXT    NOT NULL DEFAULT '',    -- true_positive, false_positive
    note         TEXT    NOT NULL DEFAULT '',
    resolved_by  TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    resolved_at  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX alerts_by_status ON alerts (status, created_at);
CREATE INDEX alerts_by_user ON alerts (user_id, created_at);
CREATE INDEX alerts_by_rule ON alerts (rule_id, created_at);

-- +goose Down
DROP TABLE alerts;
DROP TABLE rule_sets;
DROP TABLE events;
