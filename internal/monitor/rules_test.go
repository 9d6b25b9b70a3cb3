package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2031, time.March, 4, 12, 0, 0, 0, time.UTC)

// regular is a user with history: an old account, one old device, no
// recent security changes.
var regular = User{ID: "usr_1", Tier: 2, AccountAgeDays: 400, Devices: 1, MFAEnabled: true,
	HoursSincePasswordChange: Never, HoursSinceMFAChange: Never, HoursSinceNewDevice: 24 * 300}

func ev(typ string, ago time.Duration, value float64) Event {
	return Event{ID: fmt.Sprintf("%s-%d-%v", typ, ago, value), UserID: "usr_1", Type: typ, Asset: "BTC", Value: value,
		Amount: value / 60000, OccurredAt: t0.Add(-ago)}
}

func defaults(t *testing.T) []Compiled {
	t.Helper()
	rs, err := ParseRules(DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// Each default rule fires on a scenario built for it and stays silent on a
// near-miss of the same scenario.
func TestDefaultRules(t *testing.T) {
	rules := defaults(t)
	withdrawal := func(value float64, attrs map[string]any) Event {
		e := ev("withdrawal_requested", 0, value)
		e.ID, e.Attributes = "wdr_now", attrs
		return e
	}
	login := ev("login_succeeded", 0, 0)
	tests := []struct {
		name    string
		rule    string
		history []Event
		user    User
		event   Event
		fires   bool
	}{
		{"absolute threshold", "large_transfer", nil, regular, withdrawal(10000, nil), true},
		{"below the threshold, no history", "large_transfer", nil, regular, withdrawal(9999, nil), false},
		{"six times the median", "large_transfer", []Event{
			ev("withdrawal_requested", 40*24*time.Hour, 100), ev("withdrawal_requested", 20*24*time.Hour, 120), ev("withdrawal_requested", 5*24*time.Hour, 80),
		}, regular, withdrawal(601, nil), true},
		{"five times the median", "large_transfer", []Event{
			ev("withdrawal_requested", 40*24*time.Hour, 100), ev("withdrawal_requested", 20*24*time.Hour, 120), ev("withdrawal_requested", 5*24*time.Hour, 80),
		}, regular, withdrawal(500, nil), false},
		{"median of withdrawals older than 90 days does not count", "large_transfer", []Event{
			ev("withdrawal_requested", 100*24*time.Hour, 100), ev("withdrawal_requested", 95*24*time.Hour, 120), ev("withdrawal_requested", 5*24*time.Hour, 80),
		}, regular, withdrawal(601, nil), false},

		{"fourth request in an hour", "repeated_withdrawal_attempts", []Event{
			ev("withdrawal_requested", 50*time.Minute, 10), ev("withdrawal_requested", 30*time.Minute, 10), ev("withdrawal_requested", 10*time.Minute, 10),
		}, regular, withdrawal(10, nil), true},
		{"third request in an hour", "repeated_withdrawal_attempts", []Event{
			ev("withdrawal_requested", 70*time.Minute, 10), ev("withdrawal_requested", 30*time.Minute, 10), ev("withdrawal_requested", 10*time.Minute, 10),
		}, regular, withdrawal(10, nil), false},
		{"third failed confirmation", "repeated_withdrawal_attempts", []Event{
			ev("withdrawal_confirmation_failed", 20*time.Minute, 0), ev("withdrawal_confirmation_failed", 10*time.Minute, 0),
		}, regular, ev("withdrawal_confirmation_failed", 0, 0), true},
		{"second failed confirmation", "repeated_withdrawal_attempts", []Event{
			ev("withdrawal_confirmation_failed", 10*time.Minute, 0),
		}, regular, ev("withdrawal_confirmation_failed", 0, 0), false},

		{"withdrawal two days after a new device", "withdrawal_after_new_device", nil,
			User{ID: "usr_1", Devices: 2, HoursSinceNewDevice: 48, HoursSincePasswordChange: Never, HoursSinceMFAChange: Never}, withdrawal(10, nil), true},
		{"withdrawal four days after a new device", "withdrawal_after_new_device", nil,
			User{ID: "usr_1", Devices: 2, HoursSinceNewDevice: 96, HoursSincePasswordChange: Never, HoursSinceMFAChange: Never}, withdrawal(10, nil), false},
		{"the first device ever", "withdrawal_after_new_device", nil,
			User{ID: "usr_1", Devices: 1, HoursSinceNewDevice: 48, HoursSincePasswordChange: Never, HoursSinceMFAChange: Never}, withdrawal(10, nil), false},

		{"new address after a password change", "new_address_after_security_change", nil,
			User{ID: "usr_1", Devices: 1, HoursSinceNewDevice: 1000, HoursSincePasswordChange: 30, HoursSinceMFAChange: Never},
			withdrawal(10, map[string]any{"address_age_hours": 25.0}), true},
		{"old address after a password change", "new_address_after_security_change", nil,
			User{ID: "usr_1", Devices: 1, HoursSinceNewDevice: 1000, HoursSincePasswordChange: 30, HoursSinceMFAChange: Never},
			withdrawal(10, map[string]any{"address_age_hours": 500.0}), false},
		{"new address, no security change", "new_address_after_security_change", nil, regular,
			withdrawal(10, map[string]any{"address_age_hours": 25.0}), false},

		{"deposit out again in minutes", "deposit_withdrawn_quickly", []Event{ev("deposit", 10*time.Minute, 1000)}, regular, withdrawal(900, nil), true},
		{"deposit out an hour later", "deposit_withdrawn_quickly", []Event{ev("deposit", 60*time.Minute, 1000)}, regular, withdrawal(900, nil), false},
		{"a small part of a deposit", "deposit_withdrawn_quickly", []Event{ev("deposit", 10*time.Minute, 1000)}, regular, withdrawal(100, nil), false},

		{"five failures then a success", "failed_logins_then_success", repeat(ev("login_failed", 0, 0), 5, 5*time.Minute), regular, login, true},
		{"four failures then a success", "failed_logins_then_success", repeat(ev("login_failed", 0, 0), 4, 5*time.Minute), regular, login, false},

		{"almost all deposits out", "withdraw_almost_all_deposited", []Event{ev("deposit", 10*24*time.Hour, 1000), ev("deposit", 2*24*time.Hour, 1000)},
			regular, withdrawal(1850, nil), true},
		{"half of deposits out", "withdraw_almost_all_deposited", []Event{ev("deposit", 10*24*time.Hour, 1000), ev("deposit", 2*24*time.Hour, 1000)},
			regular, withdrawal(1000, nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := NewMemory()
			for _, h := range tt.history {
				mem.Add(h)
			}
			out := Evaluate(context.Background(), rules, tt.event, tt.user, mem)
			if len(out.Errors) > 0 {
				t.Fatalf("errors: %v", out.Errors)
			}
			fired := slices.ContainsFunc(out.Hits, func(h Hit) bool { return h.Rule.ID == tt.rule })
			if fired != tt.fires {
				t.Fatalf("%s fired = %v, want %v (hits %+v)", tt.rule, fired, tt.fires, out.Hits)
			}
		})
	}
}

// repeat makes n copies of e, spaced by every, ending every before t0.
func repeat(e Event, n int, every time.Duration) []Event {
	var out []Event
	for i := n; i >= 1; i-- {
		c := e
		c.OccurredAt = t0.Add(-time.Duration(i) * every)
		c.ID = fmt.Sprintf("%s-%d", e.Type, i)
		out = append(out, c)
	}
	return out
}

func TestStrongestActionWinsAndShadowDoesNotAct(t *testing.T) {
	rs := RuleSet{Rules: []Rule{
		{ID: "a", EventTypes: []string{"deposit"}, Condition: "true", Action: ActionAlert},
		{ID: "f", EventTypes: []string{"deposit"}, Condition: "true", Action: ActionFreeze, Mode: ModeShadow},
		{ID: "r", EventTypes: []string{"deposit"}, Condition: "event.value > 1.0", Action: ActionRestrict},
		{ID: "h", EventTypes: []string{"deposit"}, Condition: "true", Action: ActionHold},
		{ID: "other", EventTypes: []string{"trade"}, Condition: "true", Action: ActionFreeze},
	}}
	rules, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	out := Evaluate(context.Background(), rules, ev("deposit", 0, 5), regular, NewMemory())
	if len(out.Hits) != 4 || out.Action() != ActionRestrict {
		t.Fatalf("hits %d, action %q; want 4 recorded and restrict (the shadow freeze records only)", len(out.Hits), out.Action())
	}
}

func TestBadRulesAreRefusedWithTheirPosition(t *testing.T) {
	for _, tt := range []struct {
		name, condition, want string
	}{
		{"does not compile", "event.value >", "condition at 1:"},
		{"unknown variable", "account.tier > 1", "undeclared reference to 'account'"},
		{"not a bool", "event.value + 1.0", "must be true or false"},
		{"unbounded window", `count("deposit", duration("87600h")) > 1`, "at most"},
		{"window not a literal", `count("deposit", duration(event.type)) > 1`, `duration("…")`},
		{"type not a literal", `count(event.type, duration("1h")) > 1`, "event type in quotes"},
		{"unknown field", `sum("deposit", "fee", duration("1h")) > 1.0`, `"value" or "amount"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(RuleSet{Rules: []Rule{{ID: "r1", EventTypes: []string{"deposit"}, Condition: tt.condition, Action: ActionAlert}}})
			if !errors.Is(err, ErrRules) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an ErrRules naming %q", err, tt.want)
			}
		})
	}
	for _, bad := range []Rule{
		{ID: "Bad Id", EventTypes: []string{"deposit"}, Condition: "true", Action: ActionAlert},
		{ID: "r", EventTypes: nil, Condition: "true", Action: ActionAlert},
		{ID: "r", EventTypes: []string{"deposit"}, Condition: "true", Action: "explode"},
		{ID: "r", EventTypes: []string{"deposit"}, Condition: "true", Action: ActionAlert, Mode: "loud"},
	} {
		if _, err := Compile(RuleSet{Rules: []Rule{bad}}); !errors.Is(err, ErrRules) {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := ParseRules([]byte("rules:\n  - id: x\n    colour: red\n")); !errors.Is(err, ErrRules) {
		t.Errorf("unknown key accepted: %v", err)
	}
}

// An aggregate that fails makes an evaluation error, never a silent "no".
type failing struct{}

func (failing) Stats(context.Context, string, string, string, time.Time, time.Time, string) (Stats, error) {
	return Stats{}, errors.New("database down")
}

func TestAggregateFailureIsAnError(t *testing.T) {
	out := Evaluate(context.Background(), defaults(t), ev("withdrawal_requested", 0, 10), regular, failing{})
	if len(out.Errors) == 0 {
		t.Fatal("no error from rules whose aggregates failed")
	}
}

// Whatever a rules file says, loading it answers a rule set or RuleErrors:
// never a panic, never a half-loaded set.
func FuzzCompileRules(f *testing.F) {
	f.Add(string(DefaultRules()))
	f.Add("rules:\n  - id: a\n    event_types: [deposit]\n    condition: count(\"deposit\", duration(\"1h\")) > 1\n    action: alert\n")
	f.Add("rules:\n  - id: a\n    event_types: [deposit]\n    condition: median(\"deposit\", \"value\", duration(\"9999999h\")) > 1.0\n    action: hold\n")
	f.Add("rules: [")
	f.Fuzz(func(t *testing.T, src string) {
		rs, err := ParseRules([]byte(src))
		if err != nil {
			if !errors.Is(err, ErrRules) {
				t.Fatalf("parse error %v is not ErrRules", err)
			}
			return
		}
		rules, err := Compile(rs)
		if err != nil {
			if !errors.Is(err, ErrRules) || rules != nil {
				t.Fatalf("compile: %v with %d rules", err, len(rules))
			}
			return
		}
		// A set that loads evaluates without panicking.
		Evaluate(context.Background(), rules, ev("deposit", 0, 5), regular, NewMemory())
	})
}
