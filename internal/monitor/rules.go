// Package monitor watches accounts and money movement: events (Warden's own
// and the platform's) are checked against rules written in CEL, and a rule
// that fires raises an alert and may act — hold a withdrawal for review,
// restrict withdrawals, or freeze the account.
//
// A rule's condition sees the event, the user and windowed aggregates of the
// user's past events:
//
//	event.type == "withdrawal_requested" && count("withdrawal_requested", duration("1h")) > 3
//
// Aggregates are count(type, window), and sum, avg, max and median(type,
// field, window) over the field "value" (reference currency) or "amount".
// Windows are literal durations of at most MaxWindow, checked when the rule
// is loaded, so no rule can ask for the whole history.
//
// The rules are pure: what they read comes through an Aggregates, which the
// store answers for live events and an in-memory replay answers for backtests.
package monitor

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Actions a rule may take, weakest first.
const (
	ActionAlert    = "alert"
	ActionHold     = "hold"
	ActionRestrict = "restrict"
	ActionFreeze   = "freeze"
)

// actionStrength orders actions: when several rules fire, the strongest wins.
var actionStrength = map[string]int{ActionAlert: 1, ActionHold: 2, ActionRestrict: 3, ActionFreeze: 4}

// Stronger tells whether action a outranks b.
func Stronger(a, b string) bool { return actionStrength[a] > actionStrength[b] }

// Modes of a rule.
const (
	ModeActive = "active"
	// ModeShadow evaluates and records, and never acts.
	ModeShadow = "shadow"
)

// Severities of an alert.
var Severities = []string{"low", "medium", "high", "critical"}

// Rule is one monitoring rule as written.
type Rule struct {
	ID          string   `yaml:"id" json:"id"`
	Description string   `yaml:"description" json:"description"`
	EventTypes  []string `yaml:"event_types" json:"event_types"`
	Condition   string   `yaml:"condition" json:"condition"`
	Action      string   `yaml:"action" json:"action"`
	Severity    string   `yaml:"severity" json:"severity"`
	Mode        string   `yaml:"mode" json:"mode"`
}

// RuleSet is the rules file: a list of rules.
type RuleSet struct {
	Rules []Rule `yaml:"rules" json:"rules"`
}

// RuleError is a rule refused when loading, with where and why.
type RuleError struct {
	RuleID string
	// Position is the rule's place in the file, counting from 1; 0 when the
	// problem is the file's as a whole (not YAML, too few or too many rules).
	Position int
	Field    string
	// Line and Column locate a CEL error in the condition (1-based; 0 when
	// the error is not in the condition).
	Line, Column int
	Message      string
}

func (e *RuleError) Error() string {
	where := e.RuleID
	if where == "" {
		where = "rules file"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s at %d:%d: %s", where, e.Field, e.Line, e.Column, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", where, e.Field, e.Message)
}

// RuleErrors lists every problem of a rules file.
type RuleErrors []*RuleError

func (e RuleErrors) Error() string {
	parts := make([]string, len(e))
	for i, r := range e {
		parts[i] = r.Error()
	}
	return strings.Join(parts, "; ")
}

// ErrRules is what every RuleErrors is.
var ErrRules = errors.New("invalid rules")

// Is makes RuleErrors an ErrRules.
func (e RuleErrors) Is(target error) bool { return target == ErrRules }

// ParseRules reads a rules file (YAML, or JSON which is YAML), refusing
// unknown keys.
func ParseRules(data []byte) (RuleSet, error) {
	var rs RuleSet
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil {
		return RuleSet{}, RuleErrors{{Field: "yaml", Message: err.Error()}}
	}
	return rs, nil
}

// check validates a rule's fields other than its condition.
func (r *Rule) check() []*RuleError {
	var errs []*RuleError
	bad := func(field, msg string) { errs = append(errs, &RuleError{RuleID: r.ID, Field: field, Message: msg}) }
	if r.ID == "" || len(r.ID) > 64 || strings.ContainsFunc(r.ID, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-')
	}) {
		bad("id", "1 to 64 of a-z, 0-9, _ and -")
	}
	if len(r.EventTypes) == 0 {
		bad("event_types", "name the event types the rule looks at")
	}
	for _, t := range r.EventTypes {
		if !validEventType(t) {
			bad("event_types", fmt.Sprintf("%q is not an event type (lower case, letters and _)", t))
		}
	}
	if r.Mode == "" {
		r.Mode = ModeActive
	}
	if r.Mode != ModeActive && r.Mode != ModeShadow {
		bad("mode", `active or shadow`)
	}
	if _, ok := actionStrength[r.Action]; !ok {
		bad("action", "alert, hold, restrict or freeze")
	}
	if r.Severity == "" {
		r.Severity = "medium"
	}
	if !slices.Contains(Severities, r.Severity) {
		bad("severity", strings.Join(Severities, ", "))
	}
	if strings.TrimSpace(r.Condition) == "" {
		bad("condition", "a CEL expression that is true when the rule fires")
	}
	if len(r.Description) > 500 {
		bad("description", "at most 500 characters")
	}
	return errs
}

func validEventType(t string) bool {
	return t != "" && len(t) <= 64 && !strings.ContainsFunc(t, func(c rune) bool { return !(c >= 'a' && c <= 'z' || c == '_') })
}

//go:embed defaults.yaml
var defaultRules []byte

// DefaultRules is the rule set Warden ships with (defaults.yaml).
func DefaultRules() []byte { return slices.Clone(defaultRules) }
