package monitor

import (
	"context"
	"slices"
	"sort"
	"time"
)

// Memory is an in-memory Aggregates over events added in time order: what
// a backtest replays through, and what rule tests build scenarios with.
type Memory struct {
	// by user, then event type: events in the order added.
	events map[string]map[string][]Event
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{events: map[string]map[string][]Event{}} }

// Add records an event; events must come in time order (per user and type).
func (m *Memory) Add(e Event) {
	byType := m.events[e.UserID]
	if byType == nil {
		byType = map[string][]Event{}
		m.events[e.UserID] = byType
	}
	byType[e.Type] = append(byType[e.Type], e)
}

// Stats implements Aggregates.
func (m *Memory) Stats(_ context.Context, userID, eventType, field string, from, to time.Time, except string) (Stats, error) {
	list := m.events[userID][eventType]
	start := sort.Search(len(list), func(i int) bool { return !list[i].OccurredAt.Before(from) })
	var s Stats
	var values []float64
	for _, e := range list[start:] {
		if !e.OccurredAt.Before(to) {
			break
		}
		if e.ID == except {
			continue
		}
		v := e.Value
		if field == "amount" {
			v = e.Amount
		}
		s.Count++
		s.Sum += v
		s.Max = max(s.Max, v)
		values = append(values, v)
	}
	s.Median = median(values)
	return s, nil
}

// median of values (0 for none); values is reordered.
func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	n := len(values)
	if n%2 == 1 {
		return values[n/2]
	}
	return (values[n/2-1] + values[n/2]) / 2
}
