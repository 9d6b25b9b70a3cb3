package monitor

import (
	"context"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/id"
)

// Alerts that need a person's judgement are grouped into one case per user
// (cases.KindAlerts), so staff investigate an account once, with its
// alerts side by side, rather than alert by alert. A case opens when a rule
// acts on the account itself or fires at high severity, or when staff open
// one from an alert; while it is open, the user's new alerts join it.
// Shadow rules' alerts never join: they are for tuning rules, not for
// judging people.

// ActorMonitoring is the audit actor of what monitoring does on its own.
const ActorMonitoring = "monitoring"

// opensCase tells whether an active hit of r needs investigation: its rule
// restricted or froze the account, or fired at high or critical severity.
// Other holds wait in the withdrawal review queue, other alerts in theirs.
func opensCase(r Rule) bool {
	switch {
	case r.Mode != ModeActive:
		return false
	case r.Action == ActionRestrict || r.Action == ActionFreeze:
		return true
	}
	return r.Severity == "high" || r.Severity == "critical"
}

// caseFor returns the alerts case the active hits of one event join: the
// user's open one, or a new one when a hit needs investigation; "" when
// they join none.
func caseFor(ctx context.Context, tx Tx, userID string, hits []Hit, now time.Time) (string, error) {
	active, opens := false, false
	for _, h := range hits {
		active = active || h.Rule.Mode == ModeActive
		opens = opens || opensCase(h.Rule)
	}
	switch {
	case !active:
		return "", nil
	case !opens:
		c, err := tx.OpenCaseOf(ctx, userID, cases.KindAlerts)
		if isNotFound(err) {
			return "", nil
		}
		return c.ID, err
	}
	c, err := openAlertsCase(ctx, tx, userID, "", account.Meta{Actor: ActorMonitoring}, now)
	return c.ID, err
}

// openAlertsCase finds the user's open alerts case or opens one, which
// takes the user's open alerts of active rules that are in no case yet
// (and the alert picked, whatever its rule's mode). The user's lock makes
// two nodes that open a case at once open one, not two.
func openAlertsCase(ctx context.Context, tx Tx, userID, picked string, m account.Meta, now time.Time) (cases.Case, error) {
	if err := tx.Lock(ctx, "alerts-case:"+userID); err != nil {
		return cases.Case{}, err
	}
	c, err := tx.OpenCaseOf(ctx, userID, cases.KindAlerts)
	if err == nil || !isNotFound(err) {
		if err == nil && picked != "" {
			err = joinCase(ctx, tx, picked, c.ID)
		}
		return c, err
	}
	c = cases.Case{ID: id.New("cas"), AccountID: userID, Kind: cases.KindAlerts, Status: cases.StatusOpen, CreatedAt: now, UpdatedAt: now}
	if err := tx.InsertCase(ctx, c); err != nil {
		return cases.Case{}, err
	}
	outside, err := tx.OpenAlertsOutsideCases(ctx, userID)
	if err != nil {
		return cases.Case{}, err
	}
	joined := 0
	for _, a := range outside {
		if a.Mode != ModeActive && a.ID != picked {
			continue
		}
		if err := joinCase(ctx, tx, a.ID, c.ID); err != nil {
			return cases.Case{}, err
		}
		joined++
	}
	_, err = audit.Append(ctx, tx, now, audit.Entry{Actor: m.Actor, Action: "case.opened", UserID: userID, IP: m.IP,
		RequestID: m.RequestID, Data: map[string]any{"case_id": c.ID, "kind": c.Kind, "alerts_joined": joined}})
	return c, err
}

// joinCase puts an open alert that is in no case into the case.
func joinCase(ctx context.Context, tx Tx, alertID, caseID string) error {
	_, err := tx.UpdateAlert(ctx, alertID, func(old Alert) (Alert, error) {
		if old.CaseID == "" && old.Status == AlertOpen {
			old.CaseID = caseID
		}
		return old, nil
	})
	return err
}

// Investigate puts an alert into its user's alerts case, opening one if
// the user has none open, with every open alert of the user's active rules
// that is in no case yet. It returns the case's id; an alert already in a
// case returns that case. A resolved alert outside any case is
// ErrAlertResolved: there is nothing left to investigate in it.
func (s *Service) Investigate(ctx context.Context, alertID string, m account.Meta) (string, error) {
	now := s.now()
	var caseID string
	err := s.Transact(ctx, func(tx Tx) error {
		a, err := tx.AlertByID(ctx, alertID)
		switch {
		case isNotFound(err):
			return ErrNoAlert
		case err != nil:
			return err
		case a.CaseID != "":
			caseID = a.CaseID
			return nil
		case a.Status == AlertResolved:
			return ErrAlertResolved
		}
		c, err := openAlertsCase(ctx, tx, a.UserID, a.ID, m, now)
		caseID = c.ID
		return err
	})
	return caseID, err
}
