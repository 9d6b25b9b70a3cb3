package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// The store satisfies what the withdrawal service needs.
var _ withdrawal.Tx = (*store.Tx)(nil)

var wdNow = time.Date(2031, time.September, 10, 11, 12, 13, 987654000, time.UTC)

// wdAt is wdNow moved by minutes.
func wdAt(minutes int) time.Time { return wdNow.Add(time.Duration(minutes) * time.Minute) }

// writeTx runs fn in a write transaction and returns what it gave.
func writeTx[T any](s *store.Store, fn func(tx *store.Tx) (T, error)) (T, error) {
	var out T
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

func insertWithdrawals(t *testing.T, s *store.Store, ws ...withdrawal.Withdrawal) {
	t.Helper()
	write(t, s, func(tx *store.Tx) error {
		for _, w := range ws {
			if err := tx.InsertWithdrawal(context.Background(), w); err != nil {
				return fmt.Errorf("insert %s: %w", w.ID, err)
			}
		}
		return nil
	})
}

func withdrawalByID(t *testing.T, s *store.Store, withdrawalID string) withdrawal.Withdrawal {
	t.Helper()
	w, err := readTx(t, s, func(tx *store.Tx) (withdrawal.Withdrawal, error) {
		return tx.WithdrawalByID(context.Background(), withdrawalID)
	})
	if err != nil {
		t.Fatalf("withdrawal %s: %v", withdrawalID, err)
	}
	return w
}

// newWithdrawal is a bare request of the account with the status, created
// at created and expiring at expires.
func newWithdrawal(wdID, accountID, status string, value int64, created, expires time.Time) withdrawal.Withdrawal {
	return withdrawal.Withdrawal{ID: wdID, AccountID: accountID, Asset: "BTC", Network: "bitcoin", Address: "bc1qexample",
		Amount: big.NewInt(value * 10), ReferenceValue: value, Price: "1.5", Status: status, CreatedAt: created, ExpiresAt: expires, UpdatedAt: created}
}

func withdrawalIDs(ws []withdrawal.Withdrawal) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

func TestAddressRoundTripScopeAndUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		full := withdrawal.Address{ID: id.New("adr"), AccountID: a.ID, Asset: "XRP", Network: "ripple", Address: "rEXAMPLE",
			Memo: "12345", Label: "Exchange, main", Status: withdrawal.AddressOnHold, ConfirmTokenHash: "tok-1",
			CreatedAt: wdAt(1), ConfirmBy: wdAt(31), ConfirmedAt: wdAt(2), AvailableAt: wdAt(3), DeletedAt: wdAt(4)}
		bare := withdrawal.Address{ID: "adr_2", AccountID: a.ID, Asset: "BTC", Network: "bitcoin", Address: "bc1qa",
			Status: withdrawal.AddressPendingConfirmation, CreatedAt: wdAt(2)}
		// Created at the same moment as bare: the id orders them.
		tie := bare
		tie.ID, tie.Address = "adr_1", "bc1qb"
		older := bare
		older.ID, older.CreatedAt = "adr_9", wdAt(0)
		other := bare
		other.ID, other.AccountID = "adr_b", b.ID
		write(t, s, func(tx *store.Tx) error {
			for _, x := range []withdrawal.Address{full, bare, tie, older, other} {
				if err := tx.InsertAddress(ctx, x); err != nil {
					return err
				}
			}
			return nil
		})
		byID := func(accountID, addressID string) (withdrawal.Address, error) {
			return readTx(t, s, func(tx *store.Tx) (withdrawal.Address, error) { return tx.AddressByID(ctx, accountID, addressID) })
		}

		// Every field comes back, a deleted address's included.
		for _, want := range []withdrawal.Address{full, bare, tie, older, other} {
			if got, err := byID(want.AccountID, want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("round trip: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		// Another account's id, or none, is not found.
		for _, c := range []struct{ accountID, addressID string }{{b.ID, full.ID}, {a.ID, other.ID}, {a.ID, "adr_missing"}} {
			if _, err := byID(c.accountID, c.addressID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("address %s of %s: %v, want ErrNotFound", c.addressID, c.accountID, err)
			}
		}
		// The book: not deleted, oldest first, the account's only.
		list := func(accountID string) []string {
			t.Helper()
			as, err := readTx(t, s, func(tx *store.Tx) ([]withdrawal.Address, error) { return tx.AddressesOf(ctx, accountID) })
			if err != nil {
				t.Fatal(err)
			}
			out := make([]string, len(as))
			for i, x := range as {
				out[i] = x.ID
			}
			return out
		}
		if got, want := list(a.ID), []string{"adr_9", "adr_1", "adr_2"}; !slices.Equal(got, want) {
			t.Errorf("AddressesOf(a) = %v, want %v", got, want)
		}
		if got, want := list(b.ID), []string{"adr_b"}; !slices.Equal(got, want) {
			t.Errorf("AddressesOf(b) = %v, want %v", got, want)
		}

		update := func(accountID, addressID string) rowUpdate[withdrawal.Address] {
			return func(fn func(old withdrawal.Address) (withdrawal.Address, error)) (withdrawal.Address, error) {
				return writeTx(s, func(tx *store.Tx) (withdrawal.Address, error) { return tx.UpdateAddress(ctx, accountID, addressID, fn) })
			}
		}
		read := func() withdrawal.Address {
			t.Helper()
			got, err := byID(a.ID, bare.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		// Every mutable field changes; what the entry is stays.
		changed := withdrawal.Address{ID: "adr_x", AccountID: b.ID, Asset: "ETH", Network: "ethereum", Address: "0xattacker",
			Memo: "m", Label: "renamed", Status: withdrawal.AddressOnHold, ConfirmTokenHash: "",
			CreatedAt: wdAt(100), ConfirmBy: wdAt(101), ConfirmedAt: wdAt(102), AvailableAt: wdAt(103), DeletedAt: wdAt(104)}
		want := changed
		want.ID, want.AccountID, want.Asset, want.Network, want.Address, want.Memo, want.CreatedAt =
			bare.ID, bare.AccountID, bare.Asset, bare.Network, bare.Address, bare.Memo, bare.CreatedAt
		checkUpdate(t, update(a.ID, bare.ID), read, bare, changed, want)
		// Times go back to zero.
		zeroed := want
		zeroed.ConfirmBy, zeroed.ConfirmedAt, zeroed.AvailableAt, zeroed.DeletedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		checkUpdate(t, update(a.ID, bare.ID), read, want, zeroed, zeroed)

		// A refusal by fn writes nothing.
		checkRefusedUpdate(t, update(a.ID, bare.ID), read, func(old withdrawal.Address) withdrawal.Address {
			old.Label, old.Status, old.DeletedAt = "refused", withdrawal.AddressPendingConfirmation, wdAt(200)
			return old
		}, zeroed)
		// Another account's address cannot be updated, nor seen by fn.
		for _, c := range []struct{ accountID, addressID string }{{a.ID, other.ID}, {b.ID, bare.ID}, {a.ID, "adr_missing"}} {
			checkUpdateNotFound(t, "address "+c.addressID+" of "+c.accountID, update(c.accountID, c.addressID))
		}
		if got, _ := byID(b.ID, other.ID); !reflect.DeepEqual(got, other) {
			t.Errorf("another account's address changed:\n got %+v\nwant %+v", got, other)
		}
		// The deleted address is out of the book.
		if got, want := list(a.ID), []string{"adr_9", "adr_1", "adr_2"}; !slices.Equal(got, want) {
			t.Errorf("AddressesOf(a) after updates = %v, want %v", got, want)
		}
		if _, err := update(a.ID, bare.ID)(func(old withdrawal.Address) (withdrawal.Address, error) {
			old.DeletedAt = wdAt(300)
			return old, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, want := list(a.ID), []string{"adr_9", "adr_1"}; !slices.Equal(got, want) {
			t.Errorf("AddressesOf(a) after deleting adr_2 = %v, want %v", got, want)
		}
	})
}

func TestWithdrawalSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		get := func(accountID string) withdrawal.Settings {
			t.Helper()
			st, err := readTx(t, s, func(tx *store.Tx) (withdrawal.Settings, error) { return tx.SettingsOf(ctx, accountID) })
			if err != nil {
				t.Fatalf("settings of %s: %v", accountID, err)
			}
			return st
		}
		put := func(st withdrawal.Settings) {
			t.Helper()
			write(t, s, func(tx *store.Tx) error { return tx.PutSettings(ctx, st) })
		}
		byToken := func(hash string) (withdrawal.Settings, error) {
			return readTx(t, s, func(tx *store.Tx) (withdrawal.Settings, error) { return tx.SettingsByOffToken(ctx, hash) })
		}

		// Never set: the defaults, naming the account.
		if got, want := get(a.ID), (withdrawal.Settings{AccountID: a.ID}); !reflect.DeepEqual(got, want) {
			t.Errorf("default settings = %+v, want %+v", got, want)
		}
		// A settings row with no token pending is never found by an empty token.
		on := withdrawal.Settings{AccountID: b.ID, AllowList: true, UpdatedAt: wdAt(1)}
		put(on)
		if got := get(b.ID); !reflect.DeepEqual(got, on) {
			t.Errorf("settings of b = %+v, want %+v", got, on)
		}
		if _, err := byToken(""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("settings by empty token: %v, want ErrNotFound", err)
		}

		// Every field round trips, and a second put replaces every field.
		full := withdrawal.Settings{AccountID: a.ID, AllowList: true, OffTokenHash: "off-1",
			OffRequestedAt: wdAt(2), OffConfirmedAt: wdAt(3), OffEffectiveAt: wdAt(4), UpdatedAt: wdAt(5)}
		put(full)
		if got := get(a.ID); !reflect.DeepEqual(got, full) {
			t.Errorf("settings round trip:\n got %+v\nwant %+v", got, full)
		}
		if got, err := byToken("off-1"); err != nil || !reflect.DeepEqual(got, full) {
			t.Errorf("settings by token: %v\n got %+v\nwant %+v", err, got, full)
		}
		if _, err := byToken("off-unknown"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("settings by unknown token: %v, want ErrNotFound", err)
		}
		off := withdrawal.Settings{AccountID: a.ID, UpdatedAt: wdAt(6)}
		put(off)
		if got := get(a.ID); !reflect.DeepEqual(got, off) {
			t.Errorf("after replacing:\n got %+v\nwant %+v", got, off)
		}
		if _, err := byToken("off-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("settings by a replaced token: %v, want ErrNotFound", err)
		}
		if _, err := byToken(""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("settings by empty token with two tokenless rows: %v, want ErrNotFound", err)
		}
		if got := get(b.ID); !reflect.DeepEqual(got, on) {
			t.Errorf("another account's settings changed: %+v, want %+v", got, on)
		}
	})
}

func TestWithdrawalRoundTripAndUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		full := withdrawal.Withdrawal{ID: id.New("wdr"), AccountID: a.ID, Asset: "XRP", Network: "ripple", AddressID: "adr_1",
			Address: "rEXAMPLE", Memo: "991", Amount: wei("123456789012345678901234"), ReferenceValue: 9_876_543_210, Price: "0.5123456789",
			Status: withdrawal.StatusPendingReview, Required: []string{withdrawal.RequireSecondFactor, withdrawal.RequireEmail},
			Satisfied: []string{withdrawal.RequireEmail}, EmailTokenHash: "mail-1", MFAFailures: 3,
			Reasons: []string{"new_address", "large_amount"}, ReviewReason: "checked by phone", Reviewer: "staff:usr_1",
			TxID: "txid-1", IdempotencyKey: "key-1", RequestHash: "rh-1", DeviceID: "dev_1", IP: "2001:db8::1",
			CreatedAt: wdAt(1), ExpiresAt: wdAt(31), UpdatedAt: wdAt(2), ApprovedAt: wdAt(3), CompletedAt: wdAt(4)}
		bare := newWithdrawal(id.New("wdr"), a.ID, withdrawal.StatusAwaitingConfirmation, 10, wdAt(0), wdAt(30))
		empty := bare
		empty.ID, empty.Required, empty.Satisfied, empty.Reasons = id.New("wdr"), []string{}, []string{}, []string{}
		insertWithdrawals(t, s, full, bare, empty)

		// Every field comes back as stored; empty lists come back nil.
		empty.Required, empty.Satisfied, empty.Reasons = nil, nil, nil
		for _, want := range []withdrawal.Withdrawal{full, bare, empty} {
			if got := withdrawalByID(t, s, want.ID); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		}
		if _, err := readTx(t, s, func(tx *store.Tx) (withdrawal.Withdrawal, error) {
			return tx.WithdrawalByID(ctx, "wdr_missing")
		}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing withdrawal: %v, want ErrNotFound", err)
		}
		// A list item that would not come back as it went in is refused.
		comma := newWithdrawal(id.New("wdr"), a.ID, withdrawal.StatusPendingReview, 1, wdAt(0), wdAt(30))
		comma.Reasons = []string{"a,b"}
		if err := writeErr(s, func(tx *store.Tx) error { return tx.InsertWithdrawal(ctx, comma) }); err == nil {
			t.Error("a reason holding a comma was stored")
		}

		update := func(withdrawalID string) rowUpdate[withdrawal.Withdrawal] {
			return func(fn func(old withdrawal.Withdrawal) (withdrawal.Withdrawal, error)) (withdrawal.Withdrawal, error) {
				return writeTx(s, func(tx *store.Tx) (withdrawal.Withdrawal, error) { return tx.UpdateWithdrawal(ctx, withdrawalID, fn) })
			}
		}
		read := func() withdrawal.Withdrawal { return withdrawalByID(t, s, full.ID) }
		// Every field of its course changes, times back to zero included;
		// what was asked stays as inserted whatever fn returns.
		changed := withdrawal.Withdrawal{ID: "wdr_other", AccountID: "usr_other", Asset: "ETH", Network: "ethereum", AddressID: "adr_evil",
			Address: "0xattacker", Memo: "evil", Amount: big.NewInt(1), ReferenceValue: 1, Price: "999", Status: withdrawal.StatusCompleted,
			Required: []string{}, Satisfied: []string{withdrawal.RequireSecondFactor}, EmailTokenHash: "", MFAFailures: 5,
			Reasons: []string{"monitoring_unavailable"}, ReviewReason: "fine", Reviewer: "key:adm_1", TxID: "txid-2",
			IdempotencyKey: "key-evil", RequestHash: "rh-evil", DeviceID: "dev_evil", IP: "192.0.2.1",
			CreatedAt: wdAt(100), ExpiresAt: wdAt(1000), UpdatedAt: wdAt(101), ApprovedAt: time.Time{}, CompletedAt: wdAt(102)}
		want := full
		want.Status, want.Satisfied, want.EmailTokenHash, want.MFAFailures = changed.Status, changed.Satisfied, changed.EmailTokenHash, changed.MFAFailures
		want.Reasons, want.ReviewReason, want.Reviewer, want.TxID = changed.Reasons, changed.ReviewReason, changed.Reviewer, changed.TxID
		want.UpdatedAt, want.ApprovedAt, want.CompletedAt = changed.UpdatedAt, changed.ApprovedAt, changed.CompletedAt
		checkUpdate(t, update(full.ID), read, full, changed, want)
		// Lists emptied come back nil.
		if _, err := update(full.ID)(func(old withdrawal.Withdrawal) (withdrawal.Withdrawal, error) {
			old.Satisfied, old.Reasons = nil, []string{}
			return old, nil
		}); err != nil {
			t.Fatal(err)
		}
		want.Satisfied, want.Reasons = nil, nil
		if got := read(); !reflect.DeepEqual(got, want) {
			t.Errorf("after emptying lists:\n got %+v\nwant %+v", got, want)
		}

		// A refusal by fn writes nothing; nor does an unstorable list.
		checkRefusedUpdate(t, update(full.ID), read, func(old withdrawal.Withdrawal) withdrawal.Withdrawal {
			old.Status, old.TxID, old.MFAFailures = withdrawal.StatusRejected, "nope", 9
			return old
		}, want)
		if _, err := update(full.ID)(func(old withdrawal.Withdrawal) (withdrawal.Withdrawal, error) {
			old.Status, old.Reasons = withdrawal.StatusRejected, []string{"x,y"}
			return old, nil
		}); err == nil {
			t.Error("a reason holding a comma was stored by an update")
		}
		if got := read(); !reflect.DeepEqual(got, want) {
			t.Errorf("after an unstorable update:\n got %+v\nwant %+v", got, want)
		}
		checkUpdateNotFound(t, "a missing withdrawal", update("wdr_missing"))
		// The other rows were not touched.
		if got := withdrawalByID(t, s, bare.ID); !reflect.DeepEqual(got, bare) {
			t.Errorf("another withdrawal changed:\n got %+v\nwant %+v", got, bare)
		}
	})
}

func TestWithdrawalIdempotencyAndTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		first := newWithdrawal("wdr_1", a.ID, withdrawal.StatusAwaitingConfirmation, 10, wdAt(0), wdAt(30))
		first.IdempotencyKey, first.RequestHash, first.EmailTokenHash = "key-1", "rh-1", "mail-1"
		// The same key on another account, and requests without a key
		// (and without an email link), are no conflict.
		theirs := newWithdrawal("wdr_b", b.ID, withdrawal.StatusAwaitingConfirmation, 20, wdAt(1), wdAt(31))
		theirs.IdempotencyKey, theirs.EmailTokenHash = "key-1", "mail-b"
		nokey1 := newWithdrawal("wdr_2", a.ID, withdrawal.StatusApproved, 30, wdAt(2), wdAt(32))
		nokey2 := newWithdrawal("wdr_3", a.ID, withdrawal.StatusApproved, 40, wdAt(3), wdAt(33))
		insertWithdrawals(t, s, first, theirs, nokey1, nokey2)

		// Reusing the key on the same account is a conflict, and stores nothing;
		// the transaction goes on (PostgreSQL does not abort it).
		again := newWithdrawal("wdr_4", a.ID, withdrawal.StatusAwaitingConfirmation, 50, wdAt(4), wdAt(34))
		again.IdempotencyKey = "key-1"
		err := writeErr(s, func(tx *store.Tx) error {
			if err := tx.InsertWithdrawal(ctx, again); !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("reused key: %v, want ErrConflict", err)
			}
			fresh := again
			fresh.ID, fresh.IdempotencyKey = "wdr_5", "key-2"
			return tx.InsertWithdrawal(ctx, fresh)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readTx(t, s, func(tx *store.Tx) (withdrawal.Withdrawal, error) { return tx.WithdrawalByID(ctx, "wdr_4") }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the conflicting request was stored: %v", err)
		}
		if got := withdrawalByID(t, s, "wdr_5"); got.IdempotencyKey != "key-2" {
			t.Errorf("the request after the conflict: key %q, want key-2", got.IdempotencyKey)
		}
		// A reused id is an error, not an idempotent repeat.
		dup := nokey1
		dup.IdempotencyKey = "key-9"
		if err := writeErr(s, func(tx *store.Tx) error { return tx.InsertWithdrawal(ctx, dup) }); err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("reused id: %v, want an error other than ErrConflict", err)
		}

		byKey := func(accountID, key string) (withdrawal.Withdrawal, error) {
			return readTx(t, s, func(tx *store.Tx) (withdrawal.Withdrawal, error) {
				return tx.WithdrawalByIdempotencyKey(ctx, accountID, key)
			})
		}
		for _, c := range []struct {
			accountID, key, want string // want "" for ErrNotFound
		}{
			{a.ID, "key-1", "wdr_1"}, {b.ID, "key-1", "wdr_b"}, {a.ID, "key-2", "wdr_5"},
			{b.ID, "key-2", ""}, {a.ID, "key-unknown", ""},
			// Rows without a key are never found by an empty one.
			{a.ID, "", ""},
		} {
			got, err := byKey(c.accountID, c.key)
			checkFinds(t, fmt.Sprintf("by key %q of %s", c.key, c.accountID), got.ID, err, c.want)
		}
		if got, err := byKey(a.ID, "key-1"); err != nil || !reflect.DeepEqual(got, first) {
			t.Errorf("by key round trip: %v\n got %+v\nwant %+v", err, got, first)
		}

		byToken := func(hash string) (withdrawal.Withdrawal, error) {
			return readTx(t, s, func(tx *store.Tx) (withdrawal.Withdrawal, error) { return tx.WithdrawalByEmailToken(ctx, hash) })
		}
		for _, c := range []struct{ hash, want string }{{"mail-1", "wdr_1"}, {"mail-b", "wdr_b"}, {"mail-unknown", ""}, {"", ""}} {
			got, err := byToken(c.hash)
			checkFinds(t, fmt.Sprintf("by email token %q", c.hash), got.ID, err, c.want)
		}
		// A spent link (its hash cleared) finds nothing any more.
		if _, err := writeTx(s, func(tx *store.Tx) (withdrawal.Withdrawal, error) {
			return tx.UpdateWithdrawal(ctx, "wdr_1", func(old withdrawal.Withdrawal) (withdrawal.Withdrawal, error) {
				old.EmailTokenHash = ""
				return old, nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := byToken("mail-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("by a spent email token: %v, want ErrNotFound", err)
		}
	})
}

func TestWithdrawalsList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		insertWithdrawals(t, s,
			newWithdrawal("wdr_a1", a.ID, withdrawal.StatusCompleted, 1, wdAt(1), wdAt(31)),
			newWithdrawal("wdr_a2", a.ID, withdrawal.StatusAwaitingConfirmation, 1, wdAt(2), wdAt(32)),
			// Created at the same moment: the larger id is the newer.
			newWithdrawal("wdr_a4", a.ID, withdrawal.StatusCompleted, 1, wdAt(3), wdAt(33)),
			newWithdrawal("wdr_a3", a.ID, withdrawal.StatusCompleted, 1, wdAt(3), wdAt(33)),
			newWithdrawal("wdr_b1", b.ID, withdrawal.StatusCompleted, 1, wdAt(4), wdAt(34)),
			newWithdrawal("wdr_b2", b.ID, withdrawal.StatusRejected, 1, wdAt(0), wdAt(30)),
		)
		for _, c := range []struct {
			accountID, status string
			limit             int
			want              []string
		}{
			{"", "", 100, []string{"wdr_b1", "wdr_a4", "wdr_a3", "wdr_a2", "wdr_a1", "wdr_b2"}},
			{"", "", 2, []string{"wdr_b1", "wdr_a4"}},
			{a.ID, "", 100, []string{"wdr_a4", "wdr_a3", "wdr_a2", "wdr_a1"}},
			{a.ID, withdrawal.StatusCompleted, 100, []string{"wdr_a4", "wdr_a3", "wdr_a1"}},
			{a.ID, withdrawal.StatusCompleted, 1, []string{"wdr_a4"}},
			{"", withdrawal.StatusCompleted, 100, []string{"wdr_b1", "wdr_a4", "wdr_a3", "wdr_a1"}},
			{b.ID, withdrawal.StatusAwaitingConfirmation, 100, []string{}},
			{"usr_missing", "", 100, []string{}},
		} {
			got, err := readTx(t, s, func(tx *store.Tx) ([]withdrawal.Withdrawal, error) {
				return tx.Withdrawals(ctx, c.accountID, c.status, c.limit)
			})
			if err != nil {
				t.Fatal(err)
			}
			if ids := withdrawalIDs(got); !slices.Equal(ids, c.want) {
				t.Errorf("Withdrawals(%q, %q, %d) = %v, want %v", c.accountID, c.status, c.limit, ids, c.want)
			}
		}
	})
}

func TestUsedSince(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		since, now := wdAt(0), wdAt(60)
		used := func(accountID string, since, now time.Time) int64 {
			t.Helper()
			// Decisions read it in write transactions, the limits page in read ones: both agree.
			r, err := readTx(t, s, func(tx *store.Tx) (int64, error) { return tx.UsedSince(ctx, accountID, since, now) })
			if err != nil {
				t.Fatal(err)
			}
			w, err := writeTx(s, func(tx *store.Tx) (int64, error) { return tx.UsedSince(ctx, accountID, since, now) })
			if err != nil {
				t.Fatal(err)
			}
			if r != w {
				t.Errorf("UsedSince: %d in a read transaction, %d in a write one", r, w)
			}
			return r
		}
		if got := used(a.ID, since, now); got != 0 {
			t.Errorf("UsedSince with no withdrawals = %d, want 0", got)
		}
		// Each row has its own bit, so the sum tells exactly which counted.
		type row struct {
			status           string
			created, expires time.Time
			counts           bool
		}
		micro := time.Microsecond
		rows := []row{
			{withdrawal.StatusPendingReview, wdAt(10), wdAt(40), true},
			{withdrawal.StatusApproved, wdAt(10), wdAt(40), true},
			{withdrawal.StatusCompleted, wdAt(10), wdAt(40), true},
			{withdrawal.StatusRejected, wdAt(10), wdAt(40), false},
			{withdrawal.StatusCancelled, wdAt(10), wdAt(40), false},
			{withdrawal.StatusExpired, wdAt(10), wdAt(40), false},
			// Awaiting confirmation holds the limit until expires_at, not at it.
			{withdrawal.StatusAwaitingConfirmation, wdAt(50), now.Add(micro), true},
			{withdrawal.StatusAwaitingConfirmation, wdAt(50), now, false},
			{withdrawal.StatusAwaitingConfirmation, wdAt(50), now.Add(-micro), false},
			// An approved request past its confirmation time still counts.
			{withdrawal.StatusApproved, wdAt(20), wdAt(25), true},
			// The window starts at since, included.
			{withdrawal.StatusCompleted, since, wdAt(30), true},
			{withdrawal.StatusCompleted, since.Add(-micro), wdAt(30), false},
			{withdrawal.StatusAwaitingConfirmation, since.Add(-micro), wdAt(90), false},
		}
		var ws []withdrawal.Withdrawal
		var want int64
		for i, r := range rows {
			value := int64(1) << i
			ws = append(ws, newWithdrawal(fmt.Sprintf("wdr_%02d", i), a.ID, r.status, value, r.created, r.expires))
			if r.counts {
				want += value
			}
		}
		// Another account's are never counted.
		ws = append(ws, newWithdrawal("wdr_b", b.ID, withdrawal.StatusApproved, 1<<40, wdAt(10), wdAt(40)))
		insertWithdrawals(t, s, ws...)
		if got := used(a.ID, since, now); got != want {
			t.Errorf("UsedSince = %d (%b), want %d (%b)", got, got, want, want)
		}
		if got := used(b.ID, since, now); got != 1<<40 {
			t.Errorf("UsedSince of b = %d, want %d", got, int64(1)<<40)
		}
		// A later now frees the last unconfirmed request; a later since drops the older rows.
		if got, want := used(a.ID, since, now.Add(micro)), want-1<<6; got != want {
			t.Errorf("UsedSince a microsecond later = %d, want %d", got, want)
		}
		if got, want := used(a.ID, wdAt(15), now), int64(1<<6|1<<9); got != want {
			t.Errorf("UsedSince from minute 15 = %d, want %d", got, want)
		}
		if got := used("usr_missing", since, now); got != 0 {
			t.Errorf("UsedSince of an unknown account = %d, want 0", got)
		}
	})
}

// TestUsedSinceUnderLock runs many concurrent decisions that check the limit
// and reserve under LockWithdrawals: exactly as many fit as the limit allows.
func TestUsedSinceUnderLock(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		const limit, value, tries = 50, 10, 16
		var wg sync.WaitGroup
		errs := make(chan error, tries)
		for i := range tries {
			wg.Go(func() {
				errs <- s.Write(ctx, func(tx *store.Tx) error {
					if err := tx.LockWithdrawals(ctx, a.ID); err != nil {
						return err
					}
					used, err := tx.UsedSince(ctx, a.ID, wdAt(-24*60), wdNow)
					if err != nil || used+value > limit {
						return err
					}
					// Widen the window between the check and the reservation.
					time.Sleep(2 * time.Millisecond)
					return tx.InsertWithdrawal(ctx, newWithdrawal(fmt.Sprintf("wdr_%02d", i), a.ID, withdrawal.StatusPendingReview, value, wdNow, wdAt(30)))
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		got, err := readTx(t, s, func(tx *store.Tx) (int64, error) { return tx.UsedSince(ctx, a.ID, wdAt(-24*60), wdNow) })
		if err != nil {
			t.Fatal(err)
		}
		if got != limit {
			t.Errorf("used %d after concurrent decisions, want exactly the limit %d", got, limit)
		}
	})
}

func TestExpireWithdrawals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		now := wdAt(60)
		due1 := newWithdrawal("wdr_due1", a.ID, withdrawal.StatusAwaitingConfirmation, 1, wdAt(1), wdAt(31))
		due1.Required, due1.Satisfied, due1.EmailTokenHash = []string{withdrawal.RequireSecondFactor, withdrawal.RequireEmail}, []string{withdrawal.RequireEmail}, "mail-1"
		due2 := newWithdrawal("wdr_due2", b.ID, withdrawal.StatusAwaitingConfirmation, 1, wdAt(2), wdAt(32))
		// Expiring exactly at now is due.
		due3 := newWithdrawal("wdr_due3", a.ID, withdrawal.StatusAwaitingConfirmation, 1, wdAt(30), now)
		notYet := newWithdrawal("wdr_later", a.ID, withdrawal.StatusAwaitingConfirmation, 1, wdAt(31), now.Add(time.Microsecond))
		var others []withdrawal.Withdrawal
		for _, st := range []string{withdrawal.StatusPendingReview, withdrawal.StatusApproved, withdrawal.StatusCompleted,
			withdrawal.StatusRejected, withdrawal.StatusCancelled, withdrawal.StatusExpired} {
			others = append(others, newWithdrawal("wdr_"+st, a.ID, st, 1, wdAt(0), wdAt(30)))
		}
		// Inserted out of order: the oldest are expired first.
		insertWithdrawals(t, s, append([]withdrawal.Withdrawal{due3, notYet, due2, due1}, others...)...)

		expire := func(limit int) []withdrawal.Withdrawal {
			t.Helper()
			out, err := writeTx(s, func(tx *store.Tx) ([]withdrawal.Withdrawal, error) { return tx.ExpireWithdrawals(ctx, now, limit) })
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		expired := func(w withdrawal.Withdrawal) withdrawal.Withdrawal {
			w.Status, w.UpdatedAt = withdrawal.StatusExpired, now
			return w
		}
		got := expire(2)
		if want := []withdrawal.Withdrawal{expired(due1), expired(due2)}; !reflect.DeepEqual(got, want) {
			t.Errorf("first expiry returned\n %+v\nwant %+v", got, want)
		}
		for _, want := range []withdrawal.Withdrawal{expired(due1), expired(due2), due3, notYet} {
			if got := withdrawalByID(t, s, want.ID); !reflect.DeepEqual(got, want) {
				t.Errorf("after the first expiry:\n got %+v\nwant %+v", got, want)
			}
		}
		if got, want := withdrawalIDs(expire(10)), []string{"wdr_due3"}; !slices.Equal(got, want) {
			t.Errorf("second expiry returned %v, want %v", got, want)
		}
		if got := expire(10); len(got) != 0 {
			t.Errorf("third expiry returned %v, want none", withdrawalIDs(got))
		}
		// Not due, or not waiting for confirmation: untouched.
		for _, want := range append([]withdrawal.Withdrawal{expired(due3), notYet}, others...) {
			if got := withdrawalByID(t, s, want.ID); !reflect.DeepEqual(got, want) {
				t.Errorf("after expiring:\n got %+v\nwant %+v", got, want)
			}
		}
	})
}

func TestPrices(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		get := func(asset string) (withdrawal.Price, error) {
			return readTx(t, s, func(tx *store.Tx) (withdrawal.Price, error) { return tx.PriceOf(ctx, asset) })
		}
		put := func(p withdrawal.Price) {
			t.Helper()
			write(t, s, func(tx *store.Tx) error { return tx.PutPrice(ctx, p) })
		}
		if _, err := get("BTC"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing price: %v, want ErrNotFound", err)
		}
		btc := withdrawal.Price{Asset: "BTC", Price: "61234.123456789", AsOf: wdAt(1), UpdatedAt: wdAt(2)}
		eth := withdrawal.Price{Asset: "ETH", Price: "3000", AsOf: wdAt(1), UpdatedAt: wdAt(2)}
		put(btc)
		put(eth)
		if got, err := get("BTC"); err != nil || !reflect.DeepEqual(got, btc) {
			t.Errorf("price round trip: %v\n got %+v\nwant %+v", err, got, btc)
		}
		newer := withdrawal.Price{Asset: "BTC", Price: "0.000000001", AsOf: wdAt(10), UpdatedAt: wdAt(11)}
		put(newer)
		if got, err := get("BTC"); err != nil || !reflect.DeepEqual(got, newer) {
			t.Errorf("after replacing: %v\n got %+v\nwant %+v", err, got, newer)
		}
		if got, err := get("ETH"); err != nil || !reflect.DeepEqual(got, eth) {
			t.Errorf("another asset's price changed: %v\n got %+v\nwant %+v", err, got, eth)
		}
	})
}

func TestRestrictions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		full := withdrawal.Restriction{ID: "rst_full", AccountID: a.ID, Kind: "withdrawals", Reason: "unusual activity, checking",
			Source: "staff:usr_1", LiftOn: "verification", CreatedAt: wdAt(1), ExpiresAt: wdAt(100), LiftedAt: time.Time{}}
		// Expired but not lifted: still listed (ActiveAt tells).
		expired := withdrawal.Restriction{ID: "rst_exp", AccountID: a.ID, Kind: "login", Reason: "r", Source: "rule:x",
			CreatedAt: wdAt(0), ExpiresAt: wdAt(5)}
		// Created with full: the larger id is the newer.
		tie := withdrawal.Restriction{ID: "rst_tie", AccountID: a.ID, Kind: "trading", Reason: "r", Source: "key:adm_1", CreatedAt: wdAt(1)}
		lifted := withdrawal.Restriction{ID: "rst_lifted", AccountID: a.ID, Kind: "withdrawals", Reason: "r", Source: "key:adm_1",
			CreatedAt: wdAt(2), LiftedAt: wdAt(3), LiftedBy: "staff:usr_2"}
		theirs := withdrawal.Restriction{ID: "rst_b", AccountID: b.ID, Kind: "withdrawals", Reason: "r", Source: "rule:y", CreatedAt: wdAt(1)}
		write(t, s, func(tx *store.Tx) error {
			for _, r := range []withdrawal.Restriction{full, expired, tie, lifted, theirs} {
				if err := tx.InsertRestriction(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		list := func(accountID string) []withdrawal.Restriction {
			t.Helper()
			rs, err := readTx(t, s, func(tx *store.Tx) ([]withdrawal.Restriction, error) { return tx.RestrictionsOf(ctx, accountID) })
			if err != nil {
				t.Fatal(err)
			}
			return rs
		}
		if got, want := list(a.ID), []withdrawal.Restriction{tie, full, expired}; !reflect.DeepEqual(got, want) {
			t.Errorf("RestrictionsOf(a):\n got %+v\nwant %+v", got, want)
		}
		if got, want := list(b.ID), []withdrawal.Restriction{theirs}; !reflect.DeepEqual(got, want) {
			t.Errorf("RestrictionsOf(b):\n got %+v\nwant %+v", got, want)
		}

		update := func(accountID, restrictionID string) rowUpdate[withdrawal.Restriction] {
			return func(fn func(old withdrawal.Restriction) (withdrawal.Restriction, error)) (withdrawal.Restriction, error) {
				return writeTx(s, func(tx *store.Tx) (withdrawal.Restriction, error) {
					return tx.UpdateRestriction(ctx, accountID, restrictionID, fn)
				})
			}
		}
		// The store reads no restriction alone: an update that fn refuses
		// shows it as stored, lifted or not, and writes nothing.
		read := func() withdrawal.Restriction {
			t.Helper()
			var stored withdrawal.Restriction
			readOnly := errors.New("read only")
			if _, err := update(a.ID, full.ID)(func(old withdrawal.Restriction) (withdrawal.Restriction, error) {
				stored = old
				return old, readOnly
			}); !errors.Is(err, readOnly) {
				t.Fatalf("read restriction %s: %v", full.ID, err)
			}
			return stored
		}
		// A refusal by fn writes nothing.
		checkRefusedUpdate(t, update(a.ID, full.ID), read, func(old withdrawal.Restriction) withdrawal.Restriction {
			old.LiftedAt, old.LiftedBy = wdAt(7), "x"
			return old
		}, full)
		// Another account's restriction is not found, and fn never sees it.
		for _, c := range []struct{ accountID, restrictionID string }{{b.ID, full.ID}, {a.ID, theirs.ID}, {a.ID, "rst_missing"}} {
			checkUpdateNotFound(t, "restriction "+c.restrictionID+" of "+c.accountID, update(c.accountID, c.restrictionID))
		}
		if got, want := list(a.ID), []withdrawal.Restriction{tie, full, expired}; !reflect.DeepEqual(got, want) {
			t.Errorf("after refused updates:\n got %+v\nwant %+v", got, want)
		}
		if got, want := list(b.ID), []withdrawal.Restriction{theirs}; !reflect.DeepEqual(got, want) {
			t.Errorf("another account's restrictions changed:\n got %+v\nwant %+v", got, want)
		}

		// Every mutable field changes; id, account, kind, source and creation stay.
		changed := withdrawal.Restriction{ID: "rst_other", AccountID: b.ID, Kind: "login", Reason: "new reason", Source: "rule:evil",
			LiftOn: "", CreatedAt: wdAt(50), ExpiresAt: time.Time{}, LiftedAt: wdAt(9), LiftedBy: "verification"}
		want := changed
		want.ID, want.AccountID, want.Kind, want.Source, want.CreatedAt = full.ID, full.AccountID, full.Kind, full.Source, full.CreatedAt
		checkUpdate(t, update(a.ID, full.ID), read, full, changed, want)
		// Lifted: out of the list; updating it again still finds it.
		if got, want := list(a.ID), []withdrawal.Restriction{tie, expired}; !reflect.DeepEqual(got, want) {
			t.Errorf("after lifting:\n got %+v\nwant %+v", got, want)
		}
		unlifted := want
		unlifted.LiftedAt, unlifted.LiftedBy, unlifted.ExpiresAt, unlifted.LiftOn = time.Time{}, "", wdAt(200), "verification"
		checkUpdate(t, update(a.ID, full.ID), read, want, unlifted, unlifted)
		if got, wantList := list(a.ID), []withdrawal.Restriction{tie, unlifted, expired}; !reflect.DeepEqual(got, wantList) {
			t.Errorf("after un-lifting:\n got %+v\nwant %+v", got, wantList)
		}
	})
}

func TestDeviceByID(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		d := session.Device{ID: id.New("dev"), AccountID: a.ID, TokenHash: "dev-hash", UserAgent: "Firefox",
			FirstSeenAt: wdAt(1), LastSeenAt: wdAt(2), LastIP: "192.0.2.7", LastPlace: "Berlin, Germany", TrustedAt: wdAt(3)}
		write(t, s, func(tx *store.Tx) error { return tx.InsertDevice(ctx, d) })
		byID := func(accountID, deviceID string) (session.Device, error) {
			return readTx(t, s, func(tx *store.Tx) (session.Device, error) { return tx.DeviceByID(ctx, accountID, deviceID) })
		}
		if got, err := byID(a.ID, d.ID); err != nil || !reflect.DeepEqual(got, d) {
			t.Errorf("device round trip: %v\n got %+v\nwant %+v", err, got, d)
		}
		for _, c := range []struct{ accountID, deviceID string }{{b.ID, d.ID}, {a.ID, "dev_missing"}} {
			if _, err := byID(c.accountID, c.deviceID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("device %s of %s: %v, want ErrNotFound", c.deviceID, c.accountID, err)
			}
		}
		// A forgotten device still tells when it first logged in.
		write(t, s, func(tx *store.Tx) error {
			_, err := tx.ForgetDevice(ctx, a.ID, d.ID, wdAt(4))
			return err
		})
		if got, err := byID(a.ID, d.ID); err != nil || !reflect.DeepEqual(got, d) {
			t.Errorf("forgotten device: %v\n got %+v\nwant %+v", err, got, d)
		}
	})
}

// wei is an amount past 64 bits, as an 18-decimal asset has them.
func wei(digits string) *big.Int {
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		panic(digits)
	}
	return v
}
