package monitor

import (
	"context"
	"regexp"
	"sort"
	"time"
)

// BacktestReport is what a rule set would have done over stored events.
type BacktestReport struct {
	From, To time.Time
	// Events is how many events were replayed (Evaluated of them in the
	// period; the rest only fed the aggregates' windows).
	Events    int
	Evaluated int
	Rules     []RuleReport
	Elapsed   time.Duration
}

// RuleReport is one rule's part of a backtest.
type RuleReport struct {
	RuleID string
	Mode   string
	Action string
	Hits   int
	// Users counts distinct users hit; Samples lists a few of them.
	Users   int
	Samples []string
	Errors  int
}

// EventsPerSecond is the replay's speed.
func (r BacktestReport) EventsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

var windowLiteral = regexp.MustCompile(`duration\(\s*"([^"]+)"\s*\)`)

// longestWindow is the longest aggregate window the rules read: how far
// before the period the replay must start for the first events' windows to
// be full.
func longestWindow(rules []Compiled) time.Duration {
	var longest time.Duration
	for _, r := range rules {
		for _, m := range windowLiteral.FindAllStringSubmatch(r.Condition, -1) {
			if d, err := time.ParseDuration(m[1]); err == nil && d > longest {
				longest = d
			}
		}
	}
	return min(longest, MaxWindow)
}

// Backtest replays the stored events of [since, now) through a rule set
// (source; the rules in force when nil) and reports what each rule would
// have hit. Nothing is recorded and no action taken. Users are seen as
// they are now (tier, devices, security changes), events as they were.
// progress, if set, is told how far the replay is.
func (s *Service) Backtest(ctx context.Context, source []byte, since time.Time, progress func(done, total int)) (BacktestReport, error) {
	var rules []Compiled
	var err error
	if source == nil {
		rules, _, err = s.Rules(ctx)
	} else {
		var rs RuleSet
		if rs, err = ParseRules(source); err == nil {
			rules, err = Compile(rs)
		}
	}
	if err != nil {
		return BacktestReport{}, err
	}
	now := s.now()
	rep := BacktestReport{From: since, To: now}
	byRule := map[string]*RuleReport{}
	users := map[string]map[string]bool{}
	for _, r := range rules {
		byRule[r.ID] = &RuleReport{RuleID: r.ID, Mode: r.Mode, Action: r.Action}
		users[r.ID] = map[string]bool{}
	}
	started := time.Now()
	from := since.Add(-longestWindow(rules))
	// The total is only for the progress bar: counting a million rows
	// costs a tenth of the replay, so a caller without one skips it.
	var total int
	if progress != nil {
		if err := s.View(ctx, func(tx Tx) error {
			total, err = tx.CountEvents(ctx, from, now)
			return err
		}); err != nil {
			return BacktestReport{}, err
		}
	}
	// Reading the events and evaluating them run side by side, each on a
	// core and a read transaction of its own: the replay takes about as long
	// as the slower of the two, not their sum.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan StoredEvent, 4096)
	readErr := make(chan error, 1)
	go func() {
		defer close(events)
		readErr <- s.View(ctx, func(tx Tx) error {
			return tx.EachEvent(ctx, from, now, func(e StoredEvent) error {
				select {
				case events <- e:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		})
	}()
	err = s.View(ctx, func(tx Tx) error {
		mem := NewMemory()
		people := map[string]User{}
		listening := map[string][]Compiled{}
		read := Reads(rules)
		for e := range events {
			rep.Events++
			if progress != nil && (rep.Events%1000 == 0 || rep.Events == total) {
				progress(rep.Events, total)
			}
			if listening[e.Type] == nil {
				listening[e.Type] = Listening(rules, e.Type)
			}
			in := !e.OccurredAt.Before(since)
			if in {
				rep.Evaluated++
			}
			if len(listening[e.Type]) == 0 && read[e.Type] == 0 {
				continue // no rule looks at it and no aggregate reads it
			}
			view := s.rulesView(e)
			if in && len(listening[e.Type]) > 0 {
				u, ok := people[e.UserID]
				if !ok {
					if u, err = UserOf(ctx, tx, e.UserID, now); err != nil {
						return err
					}
					people[e.UserID] = u
				}
				out := Evaluate(ctx, listening[e.Type], view, u, mem)
				for _, h := range out.Hits {
					r := byRule[h.Rule.ID]
					r.Hits++
					if !users[r.RuleID][e.UserID] {
						users[r.RuleID][e.UserID] = true
						if len(r.Samples) < 5 {
							r.Samples = append(r.Samples, e.UserID)
						}
					}
				}
				for id := range out.Errors {
					byRule[id].Errors++
				}
			}
			if read[e.Type] > 0 {
				mem.Add(view) // only what some aggregate reads
			}
		}
		return nil
	})
	if err != nil {
		cancel()
		for range events { // let the reader finish
		}
		<-readErr
		return BacktestReport{}, err
	}
	err = <-readErr
	if err != nil {
		return BacktestReport{}, err
	}
	rep.Elapsed = time.Since(started)
	for _, r := range rules {
		rr := byRule[r.ID]
		rr.Users = len(users[r.ID])
		rep.Rules = append(rep.Rules, *rr)
	}
	sort.SliceStable(rep.Rules, func(i, j int) bool { return rep.Rules[i].Hits > rep.Rules[j].Hits })
	return rep, nil
}
