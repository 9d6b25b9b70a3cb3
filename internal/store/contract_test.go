package store_test

import (
	"errors"
	"reflect"
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
