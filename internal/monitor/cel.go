package monitor

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// MaxWindow is the longest window an aggregate may look back over: a rule
// cannot make every evaluation read a user's whole history.
const MaxWindow = 400 * 24 * time.Hour

// Fields aggregates can read.
var aggregateFields = []string{"value", "amount"}

// Event is one event as rules see it. Value is in the reference currency's
// whole units and Amount in the asset's, as floats: rules compare and
// multiply, they never book money.
type Event struct {
	ID         string
	UserID     string
	Type       string
	Asset      string
	Amount     float64
	Value      float64
	OccurredAt time.Time
	Attributes map[string]any
}

// User is the account as rules see it. The Hours fields are since the last
// change of that kind, or a large number when there was none.
// The JSON names are the rules' (an alert's context shows the user so).
type User struct {
	ID                       string  `json:"id"`
	Tier                     int     `json:"tier"`
	AccountAgeDays           float64 `json:"account_age_days"`
	Devices                  int     `json:"devices"`
	MFAEnabled               bool    `json:"mfa_enabled"`
	HoursSincePasswordChange float64 `json:"hours_since_password_change"`
	HoursSinceMFAChange      float64 `json:"hours_since_mfa_change"`
	// HoursSinceNewDevice is since the newest device's first login.
	HoursSinceNewDevice float64 `json:"hours_since_new_device"`
}

// Never stands for "no change of this kind": about 114 years in hours.
const Never = 1e6

// Stats are what an aggregate reads: the user's events of one type in a
// window before the event evaluated (that event itself not included).
type Stats struct {
	Count  int64
	Sum    float64
	Max    float64
	Median float64
}

// Aggregates answers windowed questions about a user's past events.
type Aggregates interface {
	// Stats covers events of eventType of the user in [from, to), not the
	// one with id except; field is "value" or "amount" ("" for a count).
	Stats(ctx context.Context, userID, eventType, field string, from, to time.Time, except string) (Stats, error)
}

// aggType is the type of the hidden receiver the aggregate macros call.
var aggType = cel.OpaqueType("warden.aggregates")

// aggVal carries one evaluation's aggregator into CEL; every aggregate call
// of every rule of that evaluation goes through it and its cache.
type aggVal struct {
	ctx   context.Context
	agg   Aggregates
	event Event
	mu    sync.Mutex
	cache map[string]Stats
	// used records what each aggregate call returned, for the alert.
	used map[string]any
	err  error
}

func (a *aggVal) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("aggregates cannot leave CEL")
}
func (a *aggVal) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("aggregates cannot be converted")
}
func (a *aggVal) Equal(other ref.Val) ref.Val { return types.Bool(other == a) }
func (a *aggVal) Type() ref.Type              { return aggType }
func (a *aggVal) Value() any                  { return a }

// stats runs (or remembers) one aggregate.
func (a *aggVal) stats(kind, eventType, field string, window time.Duration) (Stats, error) {
	key := fmt.Sprintf("%s(%q, %q, %s)", kind, eventType, field, window)
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.cache[key]; ok {
		return s, nil
	}
	s, err := a.agg.Stats(a.ctx, a.event.UserID, eventType, field, a.event.OccurredAt.Add(-window), a.event.OccurredAt, a.event.ID)
	if err != nil {
		a.err = err
		return s, err
	}
	a.cache[key] = s
	return s, nil
}

// aggregate is the implementation of one aggregate function.
func aggregate(kind string) func(args ...ref.Val) ref.Val {
	return func(args ...ref.Val) ref.Val {
		a, ok := args[0].(*aggVal)
		if !ok {
			return types.NewErr("%s: no aggregates in this evaluation", kind)
		}
		eventType, _ := args[1].Value().(string)
		field := ""
		last := args[len(args)-1]
		if len(args) == 4 {
			field, _ = args[2].Value().(string)
		}
		window, _ := last.Value().(time.Duration)
		s, err := a.stats(kind, eventType, field, window)
		if err != nil {
			return types.NewErr("%s: %v", kind, err)
		}
		var out ref.Val
		switch kind {
		case "count":
			out = types.Int(s.Count)
		case "sum":
			out = types.Double(s.Sum)
		case "avg":
			if s.Count == 0 {
				out = types.Double(0)
			} else {
				out = types.Double(s.Sum / float64(s.Count))
			}
		case "max":
			out = types.Double(s.Max)
		case "median":
			out = types.Double(s.Median)
		}
		name := fmt.Sprintf("%s(%q", kind, eventType)
		if field != "" {
			name += fmt.Sprintf(", %q", field)
		}
		name += ", " + window.String() + ")"
		a.mu.Lock()
		a.used[name] = out.Value()
		a.mu.Unlock()
		return out
	}
}

// aggregateMacro turns count("t", duration("1h")) into the hidden receiver's
// _agg.count("t", duration("1h")), checking that the type, field and window
// are literals and the window bounded.
func aggregateMacro(kind string, argc int) cel.Macro {
	return cel.GlobalMacro(kind, argc, func(eh cel.MacroExprFactory, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
		if lit, ok := literalString(args[0]); !ok || !validEventType(lit) {
			return nil, eh.NewError(args[0].ID(), kind+": the first argument must be an event type in quotes, such as \"withdrawal_requested\"")
		}
		if argc == 3 {
			lit, ok := literalString(args[1])
			if !ok || !contains(aggregateFields, lit) {
				return nil, eh.NewError(args[1].ID(), kind+`: the field must be "value" or "amount"`)
			}
		}
		w := args[argc-1]
		if w.Kind() != ast.CallKind || w.AsCall().FunctionName() != "duration" || len(w.AsCall().Args()) != 1 {
			return nil, eh.NewError(w.ID(), kind+`: the window must be written duration("…"), such as duration("1h")`)
		}
		lit, ok := literalString(w.AsCall().Args()[0])
		if !ok {
			return nil, eh.NewError(w.ID(), kind+`: the window must be written duration("…") with the duration in quotes, such as duration("1h")`)
		}
		d, err := time.ParseDuration(lit)
		if err != nil || d <= 0 || d > MaxWindow {
			return nil, eh.NewError(w.ID(), fmt.Sprintf("%s: the window must be a positive duration of at most %s", kind, MaxWindow))
		}
		return eh.NewMemberCall(kind, eh.NewIdent("_agg"), args...), nil
	})
}

func literalString(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newEnv is the CEL environment every rule is checked in.
func newEnv() (*cel.Env, error) {
	count := cel.Function("count", cel.MemberOverload("agg_count", []*cel.Type{aggType, cel.StringType, cel.DurationType}, cel.IntType,
		cel.FunctionBinding(aggregate("count"))))
	opts := []cel.EnvOption{
		cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("user", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("_agg", aggType),
		count,
		cel.Macros(aggregateMacro("count", 2)),
	}
	for _, kind := range []string{"sum", "avg", "max", "median"} {
		opts = append(opts,
			cel.Function(kind, cel.MemberOverload("agg_"+kind, []*cel.Type{aggType, cel.StringType, cel.StringType, cel.DurationType}, cel.DoubleType,
				cel.FunctionBinding(aggregate(kind)))),
			cel.Macros(aggregateMacro(kind, 3)))
	}
	return cel.NewEnv(opts...)
}

// Compiled is a rule ready to evaluate.
type Compiled struct {
	Rule
	program cel.Program
	// reads is the longest window the rule's aggregates read, by event
	// type: what one evaluation must load.
	reads map[string]time.Duration
}

// aggregateCall finds the aggregates of a condition; the macros make them
// literal, so the text says exactly what they read.
var aggregateCall = regexp.MustCompile(`\b(?:count|sum|avg|max|median)\(\s*"([a-z_]+)"\s*,(?:\s*"[a-z]+"\s*,)?\s*duration\(\s*"([^"]+)"\s*\)`)

func reads(condition string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, m := range aggregateCall.FindAllStringSubmatch(condition, -1) {
		if d, err := time.ParseDuration(m[2]); err == nil && d > out[m[1]] {
			out[m[1]] = d
		}
	}
	return out
}

// Compile checks a rule set: every field, and every condition type-checked
// to a bool, with the CEL error's position. Nothing is returned unless all
// rules are good, so a bad file never replaces a running set.
func Compile(rs RuleSet) ([]Compiled, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("monitor: CEL environment: %w", err)
	}
	var errs RuleErrors
	seen := map[string]bool{}
	var out []Compiled
	for i := range rs.Rules {
		r := rs.Rules[i]
		refuse := func(e *RuleError) {
			e.Position = i + 1
			errs = append(errs, e)
		}
		for _, e := range r.check() {
			refuse(e)
		}
		if seen[r.ID] {
			refuse(&RuleError{RuleID: r.ID, Field: "id", Message: "used by another rule"})
		}
		seen[r.ID] = true
		if strings.TrimSpace(r.Condition) == "" {
			continue
		}
		checked, iss := env.Compile(r.Condition)
		if iss.Err() != nil {
			for _, e := range iss.Errors() {
				refuse(&RuleError{RuleID: r.ID, Field: "condition", Line: e.Location.Line(), Column: e.Location.Column() + 1, Message: e.Message})
			}
			continue
		}
		if checked.OutputType() != cel.BoolType {
			refuse(&RuleError{RuleID: r.ID, Field: "condition", Message: "must be true or false, not " + checked.OutputType().String()})
			continue
		}
		prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(100_000))
		if err != nil {
			refuse(&RuleError{RuleID: r.ID, Field: "condition", Message: err.Error()})
			continue
		}
		out = append(out, Compiled{Rule: r, program: prg, reads: reads(r.Condition)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(out) > 200 {
		return nil, RuleErrors{{Field: "rules", Message: "at most 200 rules"}}
	}
	if len(out) == 0 {
		// An empty file would switch monitoring off without a word; a rule
		// in shadow mode is the way to keep one quiet.
		return nil, RuleErrors{{Field: "rules", Message: "at least one rule (set mode: shadow to keep a rule from acting)"}}
	}
	return out, nil
}

// Hit is a rule that fired, with the aggregate values it read.
type Hit struct {
	Rule   Rule
	Values map[string]any
}

// Outcome is what an event's evaluation found.
type Outcome struct {
	Hits []Hit
	// Errors are rules that could not be evaluated (a failed aggregate, a
	// missing attribute). A withdrawal with any is held, never let through.
	Errors map[string]error
}

// Action is the strongest action of the active hits ("" when none).
func (o Outcome) Action() string {
	best := ""
	for _, h := range o.Hits {
		if h.Rule.Mode == ModeActive && Stronger(h.Rule.Action, best) {
			best = h.Rule.Action
		}
	}
	return best
}

// Listening lists the rules that look at events of a type.
func Listening(rules []Compiled, eventType string) []Compiled {
	var out []Compiled
	for _, r := range rules {
		if contains(r.EventTypes, eventType) {
			out = append(out, r)
		}
	}
	return out
}

// Reads is what rules' aggregates read: the longest window by event type.
func Reads(rules []Compiled) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, r := range rules {
		for t, d := range r.reads {
			out[t] = max(out[t], d)
		}
	}
	return out
}

// Evaluate runs the rules that look at the event's type.
func Evaluate(ctx context.Context, rules []Compiled, e Event, u User, agg Aggregates) Outcome {
	out := Outcome{Errors: map[string]error{}}
	vars := map[string]any{
		"event": eventMap(e),
		"user": map[string]any{
			"id": u.ID, "tier": int64(u.Tier), "account_age_days": u.AccountAgeDays, "devices": int64(u.Devices),
			"mfa_enabled": u.MFAEnabled, "hours_since_password_change": u.HoursSincePasswordChange,
			"hours_since_mfa_change": u.HoursSinceMFAChange, "hours_since_new_device": u.HoursSinceNewDevice,
		},
	}
	for _, r := range rules {
		if !contains(r.EventTypes, e.Type) {
			continue
		}
		a := &aggVal{ctx: ctx, agg: agg, event: e, cache: map[string]Stats{}, used: map[string]any{}}
		vars["_agg"] = a
		val, _, err := r.program.ContextEval(ctx, vars)
		if err == nil && a.err != nil {
			err = a.err
		}
		if err != nil {
			out.Errors[r.ID] = err
			continue
		}
		if fired, ok := val.Value().(bool); ok && fired {
			out.Hits = append(out.Hits, Hit{Rule: r.Rule, Values: a.used})
		}
	}
	sort.SliceStable(out.Hits, func(i, j int) bool { return Stronger(out.Hits[i].Rule.Action, out.Hits[j].Rule.Action) })
	return out
}

func eventMap(e Event) map[string]any {
	attrs := e.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	return map[string]any{
		"id": e.ID, "type": e.Type, "asset": e.Asset, "amount": e.Amount, "value": e.Value,
		"occurred_at": e.OccurredAt, "attributes": attrs,
	}
}
