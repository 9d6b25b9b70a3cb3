-- A withdrawal waiting for staff holds the account's next ones (reason
-- "review"): each request asks whether the account has one. This partial
-- index answers that from the few rows in review, however many withdrawals
-- the account has made.

-- +goose Up
CREATE INDEX withdrawals_in_review ON withdrawals (account_id) WHERE status = 'pending_review';

-- +goose Down
DROP INDEX withdrawals_in_review;
