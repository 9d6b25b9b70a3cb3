package store_test

// The checks of the contracts that the store's methods of one kind all keep.

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/wardenhq/warden/internal/store"
)

// rowUpdate is one row's UpdateX method of the store, its ids bound: every such
// method reads the row under a lock, hands it to fn and stores what fn
// returns (but for the fields that never change), or nothing when fn fails.
type rowUpdate[T any] func(fn func(old T) (T, error)) (T, error)

// checkUpdate runs up with an fn that returns changed, and checks that fn
// saw old, that the update returned want (changed with the fields that never
// change kept) and that read reads want back.
func checkUpdate[T any](t *testing.T, up rowUpdate[T], read func() T, old, changed, want T) {
	t.Helper()
	var seen T
	got, err := up(func(o T) (T, error) {
		seen = o
		return changed, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, old) {
		t.Errorf("fn saw\n %+v\nwant %+v", seen, old)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("update returned\n %+v\nwant %+v", got, want)
	}
	if got := read(); !reflect.DeepEqual(got, want) {
		t.Errorf("after update:\n got %+v\nwant %+v", got, want)
	}
}

// checkRefusedUpdate runs up with an fn that changes the row with spoil and
// then fails: the update returns fn's error and read still reads want.
func checkRefusedUpdate[T any](t *testing.T, up rowUpdate[T], read func() T, spoil func(T) T, want T) {
	t.Helper()
	refuse := errors.New("refused")
	if _, err := up(func(o T) (T, error) { return spoil(o), refuse }); !errors.Is(err, refuse) {
		t.Fatalf("refused update: %v", err)
	}
	if got := read(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a refused update:\n got %+v\nwant %+v", got, want)
	}
}

// checkUpdateNotFound checks that the update of what is not there, or is
// another account's, is ErrNotFound and never shows fn a row.
func checkUpdateNotFound[T any](t *testing.T, what string, up rowUpdate[T]) {
	t.Helper()
	if _, err := up(func(o T) (T, error) {
		t.Errorf("fn called for %s", what)
		return o, nil
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of %s: %v, want ErrNotFound", what, err)
	}
}

// checkFinds checks what a lookup found: the row whose id is want or, when
// want is "", nothing (ErrNotFound).
func checkFinds(t *testing.T, what, gotID string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && !errors.Is(err, store.ErrNotFound):
		t.Errorf("%s: %s (%v), want ErrNotFound", what, gotID, err)
	case want != "" && (err != nil || gotID != want):
		t.Errorf("%s: %s (%v), want %s", what, gotID, err, want)
	}
}

// checkDue checks a query of the work that is due, which lists ids up to a
// limit in an order of its own: given room (100) it lists exactly want
// (sorted), given limit (less than len(want)) the first limit of them. It
// returns the whole list.
func checkDue(t *testing.T, due func(limit int) []string, want []string, limit int) []string {
	t.Helper()
	all := due(100)
	if got := slices.Sorted(slices.Values(all)); !slices.Equal(got, want) {
		t.Errorf("due: %v, want %v", got, want)
	}
	if got := due(limit); !slices.Equal(got, all[:min(limit, len(all))]) || len(got) != limit {
		t.Errorf("limit %d: %v, want the first %d of %v", limit, got, limit, all)
	}
	return all
}
