-- Cases of alerts grouped for investigation: an alert names the case it
-- joined ('' while it is in none). The cases table already takes any kind.

-- +goose Up
ALTER TABLE alerts ADD COLUMN case_id TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_by_case ON alerts (case_id, created_at);

-- +goose Down
DROP INDEX alerts_by_case;
ALTER TABLE alerts DROP COLUMN case_id;
