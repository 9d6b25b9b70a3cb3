package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/verification"
)

// The store satisfies what the verification service needs.
var _ verification.Tx = (*store.Tx)(nil)

var verNow = time.Date(2031, time.July, 8, 9, 10, 11, 654321000, time.UTC)

// readTx runs fn in a read transaction and returns what it read.
func readTx[T any](t *testing.T, s *store.Store, fn func(tx *store.Tx) (T, error)) (T, error) {
	t.Helper()
	var out T
	err := s.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

func insertVerifications(t *testing.T, s *store.Store, vs ...verification.Verification) {
	t.Helper()
	write(t, s, func(tx *store.Tx) error {
		for _, v := range vs {
			if err := tx.InsertVerification(context.Background(), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// newVerification stores a verification of the account, created at verNow,
// for the tests of its documents.
func newVerification(t *testing.T, s *store.Store, accountID, purpose, status string) verification.Verification {
	t.Helper()
	v := verification.Verification{ID: id.New("ver"), AccountID: accountID, Purpose: purpose, Status: status,
		CreatedAt: verNow, UpdatedAt: verNow}
	insertVerifications(t, s, v)
	return v
}

func insertDocuments(t *testing.T, s *store.Store, ds ...verification.Document) {
	t.Helper()
	write(t, s, func(tx *store.Tx) error {
		for _, d := range ds {
			if err := tx.InsertDocument(context.Background(), d); err != nil {
				return err
			}
		}
		return nil
	})
}

func verificationByID(t *testing.T, s *store.Store, verificationID string) verification.Verification {
	t.Helper()
	v, err := readTx(t, s, func(tx *store.Tx) (verification.Verification, error) {
		return tx.VerificationByID(context.Background(), verificationID)
	})
	if err != nil {
		t.Fatalf("verification %s: %v", verificationID, err)
	}
	return v
}

func ids(vs []verification.Verification) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func TestVerificationRoundTripAndUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		at := func(minutes int) time.Time { return verNow.Add(time.Duration(minutes) * time.Minute) }
		full := verification.Verification{ID: id.New("ver"), AccountID: a.ID, Purpose: verification.PurposeMFAReset,
			Status: verification.StatusApproved, TargetTier: 2, SealedInfo: []byte{0, 1, 2, 0xff}, InfoKeyID: "k1",
			Resubmit: []string{"id_document", "selfie"}, Reason: "looks good", Reviewer: "staff:usr_1", ProviderRef: "prov-42",
			AccessHash: "hash-1", CreatedAt: at(1), UpdatedAt: at(2), SubmittedAt: at(3), DecidedAt: at(4), DocumentsPurgedAt: at(5),
			EffectiveAt: at(6), RemindedAt: at(7), CompletedAt: at(8), CancelledAt: at(9)}
		bare := verification.Verification{ID: id.New("ver"), AccountID: a.ID, Purpose: verification.PurposeTier,
			Status: verification.StatusNotStarted, CreatedAt: at(0), UpdatedAt: at(0)}
		empty := bare
		empty.ID, empty.SealedInfo, empty.Resubmit = id.New("ver"), []byte{}, []string{}
		insertVerifications(t, s, full, bare, empty)

		// Every field comes back as stored; empty lists and info come back nil.
		empty.SealedInfo, empty.Resubmit = nil, nil
		for _, want := range []verification.Verification{full, bare, empty} {
			if got := verificationByID(t, s, want.ID); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		}
		if _, err := readTx(t, s, func(tx *store.Tx) (verification.Verification, error) {
			return tx.VerificationByID(ctx, "ver_missing")
		}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing verification: %v, want ErrNotFound", err)
		}
		// Empty personal information is stored as NULL.
		if err := s.ExecRaw(ctx, `UPDATE verifications SET reason = 'null info' WHERE personal_info IS NULL`); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			id, reason string
		}{{full.ID, full.Reason}, {bare.ID, "null info"}, {empty.ID, "null info"}} {
			if got := verificationByID(t, s, c.id); got.Reason != c.reason {
				t.Errorf("%s: reason %q, want %q (NULL personal_info)", c.id, got.Reason, c.reason)
			}
		}

		update := func(verificationID string) rowUpdate[verification.Verification] {
			return func(fn func(old verification.Verification) (verification.Verification, error)) (verification.Verification, error) {
				return writeTx(s, func(tx *store.Tx) (verification.Verification, error) {
					return tx.UpdateVerification(ctx, verificationID, fn)
				})
			}
		}
		read := func() verification.Verification { return verificationByID(t, s, full.ID) }

		// Every mutable field changes, times back to zero included; the id,
		// account, purpose and creation time stay.
		changed := verification.Verification{ID: "ver_other", AccountID: "usr_other", Purpose: verification.PurposeTier,
			Status: verification.StatusResubmissionRequested, TargetTier: 1, SealedInfo: []byte("new"), InfoKeyID: "k2",
			Resubmit: []string{"selfie"}, Reason: "blurry", Reviewer: "key:adm_1", ProviderRef: "prov-43", AccessHash: "hash-2",
			CreatedAt: at(100), UpdatedAt: at(101), SubmittedAt: at(102)}
		want := changed
		want.ID, want.AccountID, want.Purpose, want.CreatedAt = full.ID, full.AccountID, full.Purpose, full.CreatedAt
		checkUpdate(t, update(full.ID), read, full, changed, want)

		// Emptied info and list go back to NULL and nothing.
		emptied := want
		emptied.SealedInfo, emptied.Resubmit = nil, nil
		checkUpdate(t, update(full.ID), read, want, emptied, emptied)

		// A refusal by fn writes nothing.
		checkRefusedUpdate(t, update(full.ID), read, func(old verification.Verification) verification.Verification {
			old.Status, old.Reason, old.DecidedAt = verification.StatusRejected, "no", at(200)
			return old
		}, emptied)
		checkUpdateNotFound(t, "a missing verification", update("ver_missing"))
	})
}

func TestLatestVerificationAndAccess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		mk := func(verID, accountID, purpose, status string, minutes int) verification.Verification {
			at := verNow.Add(time.Duration(minutes) * time.Minute)
			return verification.Verification{ID: verID, AccountID: accountID, Purpose: purpose, Status: status, CreatedAt: at, UpdatedAt: at}
		}
		reset := mk("ver_reset", a.ID, verification.PurposeMFAReset, verification.StatusPendingReview, 10)
		reset.AccessHash = "access-1"
		insertVerifications(t, s,
			mk("ver_1", a.ID, verification.PurposeTier, verification.StatusApproved, 0),
			mk("ver_2", a.ID, verification.PurposeTier, verification.StatusRejected, 1),
			mk("ver_3", a.ID, verification.PurposeTier, verification.StatusApproved, 2),
			// Created at the same moment: the larger id is the newer.
			mk("ver_5", a.ID, verification.PurposeTier, verification.StatusInProgress, 3),
			mk("ver_4", a.ID, verification.PurposeTier, verification.StatusRejected, 3),
			reset,
			mk("ver_b", b.ID, verification.PurposeTier, verification.StatusPendingReview, 20),
		)
		for _, c := range []struct {
			accountID, purpose, status string
			want                       string // "" for ErrNotFound
		}{
			{a.ID, verification.PurposeTier, "", "ver_5"},
			{a.ID, verification.PurposeTier, verification.StatusApproved, "ver_3"},
			{a.ID, verification.PurposeTier, verification.StatusRejected, "ver_4"},
			{a.ID, verification.PurposeTier, verification.StatusInProgress, "ver_5"},
			{a.ID, verification.PurposeTier, verification.StatusPendingReview, ""},
			{a.ID, verification.PurposeMFAReset, "", "ver_reset"},
			{a.ID, verification.PurposeMFAReset, verification.StatusApproved, ""},
			{b.ID, verification.PurposeTier, "", "ver_b"},
			{b.ID, verification.PurposeMFAReset, "", ""},
			{"usr_nobody", verification.PurposeTier, "", ""},
		} {
			got, err := readTx(t, s, func(tx *store.Tx) (verification.Verification, error) {
				return tx.LatestVerification(ctx, c.accountID, c.purpose, c.status)
			})
			checkFinds(t, fmt.Sprintf("latest %s %q of %s", c.purpose, c.status, c.accountID), got.ID, err, c.want)
		}

		for _, c := range []struct{ hash, want string }{{"access-1", "ver_reset"}, {"", ""}, {"access-2", ""}} {
			got, err := readTx(t, s, func(tx *store.Tx) (verification.Verification, error) {
				return tx.VerificationByAccess(ctx, c.hash)
			})
			checkFinds(t, fmt.Sprintf("by access %q", c.hash), got.ID, err, c.want)
		}
	})
}

func TestVerificationQueueOrder(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		mk := func(verID, accountID, status string, created, submitted int) verification.Verification {
			v := verification.Verification{ID: verID, AccountID: accountID, Purpose: verification.PurposeTier, Status: status,
				CreatedAt: verNow.Add(time.Duration(created) * time.Minute), UpdatedAt: verNow}
			if submitted > 0 {
				v.SubmittedAt = verNow.Add(time.Duration(submitted) * time.Minute)
			}
			return v
		}
		// Inserted in an order that is none of the expected ones.
		insertVerifications(t, s,
			mk("ver_p1", a.ID, verification.StatusPendingReview, 5, 30),
			mk("ver_new", b.ID, verification.StatusInProgress, 40, 0),
			mk("ver_p2", b.ID, verification.StatusPendingReview, 6, 20),
			mk("ver_ok", a.ID, verification.StatusApproved, 1, 10),
			mk("ver_p3", a.ID, verification.StatusPendingReview, 2, 20), // submitted with p2, created before it
			mk("ver_rs", b.ID, verification.StatusResubmissionRequested, 3, 25),
		)
		for _, c := range []struct {
			status string
			limit  int
			want   []string
		}{
			{verification.StatusPendingReview, 10, []string{"ver_p3", "ver_p2", "ver_p1"}},
			{verification.StatusPendingReview, 2, []string{"ver_p3", "ver_p2"}},
			{verification.StatusApproved, 10, []string{"ver_ok"}},
			{verification.StatusRejected, 10, nil},
			{"", 10, []string{"ver_new", "ver_ok", "ver_p3", "ver_p2", "ver_rs", "ver_p1"}},
			{"", 3, []string{"ver_new", "ver_ok", "ver_p3"}},
		} {
			got, err := readTx(t, s, func(tx *store.Tx) ([]verification.Verification, error) {
				return tx.Verifications(ctx, c.status, c.limit)
			})
			if err != nil || !slices.Equal(ids(got), c.want) {
				t.Errorf("Verifications(%q, %d) = %v (%v), want %v", c.status, c.limit, ids(got), err, c.want)
			}
		}
	})
}

// upload is a document uploaded in a replacement scenario.
type upload struct{ kind, side string }

func TestDocumentReplacement(t *testing.T) {
	t.Parallel()
	var (
		passport = upload{verification.KindPassport, verification.SideFront}
		idFront  = upload{verification.KindIDCard, verification.SideFront}
		idBack   = upload{verification.KindIDCard, verification.SideBack}
		dlFront  = upload{verification.KindDriversLicense, verification.SideFront}
		dlBack   = upload{verification.KindDriversLicense, verification.SideBack}
		selfie   = upload{verification.KindSelfie, ""}
	)
	scenarios := []struct {
		name    string
		uploads []upload
		// replacedBy[i] is the upload that replaced upload i, -1 if current.
		replacedBy []int
	}{
		{"nothing replaces a different kind or side", []upload{idFront, idBack, selfie}, []int{-1, -1, -1}},
		{"a passport replaces an ID card, both sides", []upload{idFront, selfie, idBack, passport}, []int{3, -1, 3, -1}},
		{"a passport replaces a driving licence, both sides", []upload{dlBack, dlFront, passport}, []int{2, 2, -1}},
		{"a passport replaces a passport", []upload{passport, passport}, []int{1, -1}},
		{"an ID card back replaces only the earlier back", []upload{idFront, idBack, idBack}, []int{-1, 2, -1}},
		{"an ID card front replaces a passport", []upload{passport, selfie, idFront}, []int{2, -1, -1}},
		{"a licence back replaces an ID card back, not its front", []upload{idFront, idBack, dlBack}, []int{-1, 2, -1}},
		{"a licence front replaces an ID card front", []upload{idFront, idBack, dlFront}, []int{2, -1, -1}},
		{"a selfie replaces only a selfie", []upload{selfie, passport, selfie, selfie}, []int{2, -1, 3, -1}},
		{"a replaced document stays replaced when it was", []upload{idBack, idBack, passport}, []int{1, 2, -1}},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		// Another verification of the account, whose documents no upload replaces.
		other := newVerification(t, s, a.ID, verification.PurposeMFAReset, verification.StatusInProgress)
		otherDocs := []verification.Document{}
		for _, u := range []upload{passport, selfie} {
			otherDocs = append(otherDocs, verification.Document{ID: id.New("doc"), VerificationID: other.ID, AccountID: a.ID,
				Kind: u.kind, Side: u.side, MediaType: "image/jpeg", SHA256: "x", Size: 1, CreatedAt: verNow})
		}
		insertDocuments(t, s, otherDocs...)

		for _, sc := range scenarios {
			v := newVerification(t, s, a.ID, verification.PurposeTier, verification.StatusInProgress)
			var docs []verification.Document
			for i, u := range sc.uploads {
				d := verification.Document{ID: id.New("doc"), VerificationID: v.ID, AccountID: a.ID,
					Kind: u.kind, Side: u.side, MediaType: "image/png", SHA256: fmt.Sprint(i), Size: 1,
					CreatedAt: verNow.Add(time.Duration(i+1) * time.Minute)}
				docs = append(docs, d)
				insertDocuments(t, s, d)
			}
			got, err := readTx(t, s, func(tx *store.Tx) ([]verification.Document, error) { return tx.DocumentsOf(ctx, v.ID) })
			if err != nil || len(got) != len(docs) {
				t.Fatalf("%s: %d documents (%v), want %d", sc.name, len(got), err, len(docs))
			}
			for i, d := range got {
				want := time.Time{}
				if by := sc.replacedBy[i]; by >= 0 {
					want = docs[by].CreatedAt
				}
				if d.ID != docs[i].ID || !d.ReplacedAt.Equal(want) {
					t.Errorf("%s: upload %d (%s %s) replaced at %v, want %v", sc.name, i, d.Kind, d.Side, d.ReplacedAt, want)
				}
			}
		}

		got, err := readTx(t, s, func(tx *store.Tx) ([]verification.Document, error) { return tx.DocumentsOf(ctx, other.ID) })
		if err != nil || len(got) != len(otherDocs) {
			t.Fatalf("other verification: %d documents (%v)", len(got), err)
		}
		for _, d := range got {
			if !d.ReplacedAt.IsZero() {
				t.Errorf("an upload to another verification replaced %s %s", d.Kind, d.Side)
			}
		}
	})
}

// A reviewer's request replaces the current documents of the kinds asked
// again; earlier replacements keep their time.
func TestReplaceDocuments(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		v := newVerification(t, s, a.ID, verification.PurposeTier, verification.StatusPendingReview)
		doc := func(kind, side string, minutes int) verification.Document {
			return verification.Document{ID: id.New("doc"), VerificationID: v.ID, AccountID: a.ID, Kind: kind, Side: side,
				MediaType: "image/jpeg", SHA256: "h", Size: 1, CreatedAt: verNow.Add(time.Duration(minutes) * time.Minute)}
		}
		docs := []verification.Document{
			doc(verification.KindIDCard, verification.SideBack, 1),
			doc(verification.KindIDCard, verification.SideFront, 2),
			doc(verification.KindIDCard, verification.SideBack, 3), // replaces the first at 3 minutes
			doc(verification.KindSelfie, "", 4),
		}
		insertDocuments(t, s, docs...)
		replaced := func() []time.Time {
			t.Helper()
			got, err := readTx(t, s, func(tx *store.Tx) ([]verification.Document, error) { return tx.DocumentsOf(ctx, v.ID) })
			if err != nil {
				t.Fatal(err)
			}
			out := make([]time.Time, len(got))
			for i, d := range got {
				out[i] = d.ReplacedAt
			}
			return out
		}
		at3 := verNow.Add(3 * time.Minute)
		now := verNow.Add(time.Hour)
		write(t, s, func(tx *store.Tx) error { return tx.ReplaceDocuments(ctx, v.ID, nil, now) })
		if got, want := replaced(), []time.Time{at3, {}, {}, {}}; !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("no kinds: replaced at %v, want %v", got, want)
		}
		write(t, s, func(tx *store.Tx) error {
			return tx.ReplaceDocuments(ctx, v.ID, []string{verification.KindPassport, verification.KindIDCard, verification.KindDriversLicense}, now)
		})
		if got, want := replaced(), []time.Time{at3, now, now, {}}; !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("ID kinds: replaced at %v, want %v", got, want)
		}
		write(t, s, func(tx *store.Tx) error {
			return tx.ReplaceDocuments(ctx, v.ID, []string{verification.KindSelfie}, now.Add(time.Hour))
		})
		if got, want := replaced(), []time.Time{at3, now, now, now.Add(time.Hour)}; !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("selfie: replaced at %v, want %v", got, want)
		}
	})
}

func TestDocumentContentAndPurge(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		v := newVerification(t, s, a.ID, verification.PurposeTier, verification.StatusApproved)
		other := newVerification(t, s, a.ID, verification.PurposeTier, verification.StatusApproved)
		front := verification.Document{ID: id.New("doc"), VerificationID: v.ID, AccountID: a.ID, Kind: verification.KindIDCard,
			Side: verification.SideFront, MediaType: "image/jpeg", SHA256: "sha-front", Size: 123456, Width: 1200, Height: 800,
			Sealed: []byte{9, 8, 7, 0, 6}, KeyID: "k1", CreatedAt: verNow.Add(2 * time.Minute)}
		selfie := verification.Document{ID: id.New("doc"), VerificationID: v.ID, AccountID: a.ID, Kind: verification.KindSelfie,
			MediaType: "image/png", SHA256: "sha-selfie", Size: 42, Width: 640, Height: 480,
			Sealed: []byte("sealed selfie"), KeyID: "k2", CreatedAt: verNow.Add(time.Minute)}
		otherDoc := verification.Document{ID: id.New("doc"), VerificationID: other.ID, AccountID: a.ID, Kind: verification.KindSelfie,
			MediaType: "image/png", SHA256: "sha-other", Size: 1, Sealed: []byte("other"), KeyID: "k1", CreatedAt: verNow}
		insertDocuments(t, s, front, selfie, otherDoc)
		content := func(documentID string) (verification.Document, error) {
			return readTx(t, s, func(tx *store.Tx) (verification.Document, error) { return tx.DocumentContent(ctx, documentID) })
		}

		// The list leaves the content out, oldest first; DocumentContent has it.
		got, err := readTx(t, s, func(tx *store.Tx) ([]verification.Document, error) { return tx.DocumentsOf(ctx, v.ID) })
		if err != nil {
			t.Fatal(err)
		}
		withoutContent := func(d verification.Document) verification.Document { d.Sealed = nil; return d }
		if want := []verification.Document{withoutContent(selfie), withoutContent(front)}; !reflect.DeepEqual(got, want) {
			t.Errorf("DocumentsOf:\n got %+v\nwant %+v", got, want)
		}
		for _, want := range []verification.Document{front, selfie} {
			if got, err := content(want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("DocumentContent (%v):\n got %+v\nwant %+v", err, got, want)
			}
		}
		if _, err := content("doc_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing document: %v, want ErrNotFound", err)
		}

		// Purging drops the content and keeps the rest; only once.
		purgeAt := verNow.Add(24 * time.Hour)
		purge := func(at time.Time) int {
			t.Helper()
			var n int
			write(t, s, func(tx *store.Tx) error {
				var err error
				n, err = tx.PurgeDocuments(ctx, v.ID, at)
				return err
			})
			return n
		}
		if n := purge(purgeAt); n != 2 {
			t.Errorf("purged %d documents, want 2", n)
		}
		if n := purge(purgeAt.Add(time.Hour)); n != 0 {
			t.Errorf("purged %d documents again, want 0", n)
		}
		for _, d := range []verification.Document{front, selfie} {
			want := withoutContent(d)
			want.PurgedAt = purgeAt
			if got, err := content(d.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("purged document (%v):\n got %+v\nwant %+v", err, got, want)
			}
		}
		if got, err := content(otherDoc.ID); err != nil || string(got.Sealed) != "other" || !got.PurgedAt.IsZero() {
			t.Errorf("another verification's document was purged: %+v (%v)", got, err)
		}
	})
}

func TestDecidedBefore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		cutoff := verNow
		var vs []verification.Verification
		add := func(name, status string, decided, cancelled, purged time.Duration) {
			v := verification.Verification{ID: "ver_" + name, AccountID: a.ID, Purpose: verification.PurposeTier, Status: status,
				CreatedAt: cutoff.Add(-time.Hour * 1000), UpdatedAt: cutoff}
			at := func(d time.Duration) time.Time {
				if d == 0 {
					return time.Time{}
				}
				return cutoff.Add(d)
			}
			v.DecidedAt, v.CancelledAt, v.DocumentsPurgedAt = at(decided), at(cancelled), at(purged)
			vs = append(vs, v)
		}
		add("approved", verification.StatusApproved, -time.Hour, 0, 0)
		add("rejected", verification.StatusRejected, -2*time.Hour, 0, 0)
		add("at_cutoff", verification.StatusRejected, time.Nanosecond, 0, 0) // rounded to the cutoff's microsecond
		add("just_before", verification.StatusRejected, -time.Microsecond, 0, 0)
		add("after", verification.StatusApproved, time.Hour, 0, 0)
		add("purged", verification.StatusApproved, -time.Hour, 0, -time.Minute)
		add("pending", verification.StatusPendingReview, 0, 0, 0)
		add("cancelled", verification.StatusPendingReview, 0, -time.Hour, 0)
		add("cancelled_late", verification.StatusInProgress, 0, time.Hour, 0)
		add("approved_cancelled_late", verification.StatusApproved, -3*time.Hour, time.Hour, 0)
		insertVerifications(t, s, vs...)
		due := func(limit int) []string {
			t.Helper()
			got, err := readTx(t, s, func(tx *store.Tx) ([]verification.Verification, error) {
				return tx.DecidedBefore(ctx, cutoff, limit)
			})
			if err != nil {
				t.Fatal(err)
			}
			return ids(got)
		}
		all := checkDue(t, due, []string{"ver_approved", "ver_approved_cancelled_late", "ver_cancelled", "ver_just_before", "ver_rejected"}, 2)
		// Once purged, a verification is no longer due.
		write(t, s, func(tx *store.Tx) error {
			_, err := tx.UpdateVerification(ctx, "ver_approved", func(old verification.Verification) (verification.Verification, error) {
				old.DocumentsPurgedAt = cutoff
				return old, nil
			})
			return err
		})
		if got := due(100); len(got) != len(all)-1 || slices.Contains(got, "ver_approved") {
			t.Errorf("after purging ver_approved: %v", got)
		}
	})
}

func TestResetsDue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		now, every := verNow, 24*time.Hour
		var vs []verification.Verification
		type state struct {
			accountID, purpose, status string
			effective, reminded        time.Duration // from now
			completed, cancelled       bool
		}
		add := func(name string, st state) {
			v := verification.Verification{ID: "ver_" + name, AccountID: st.accountID, Purpose: st.purpose, Status: st.status,
				CreatedAt: now.Add(-72 * time.Hour), UpdatedAt: now, DecidedAt: now.Add(-48 * time.Hour),
				EffectiveAt: now.Add(st.effective), RemindedAt: now.Add(st.reminded)}
			if st.completed {
				v.CompletedAt = now.Add(-time.Minute)
			}
			if st.cancelled {
				v.CancelledAt = now.Add(-time.Minute)
			}
			vs = append(vs, v)
		}
		reset := func(effective, reminded time.Duration) state {
			return state{a.ID, verification.PurposeMFAReset, verification.StatusApproved, effective, reminded, false, false}
		}
		add("ended", reset(-time.Second, -time.Hour))
		add("ends_now", reset(0, -time.Hour))
		add("remind_now", reset(time.Hour, -every))
		add("remind_overdue", reset(time.Hour, -every-time.Hour))
		add("quiet", reset(time.Hour, -every+time.Second))
		completed := reset(-time.Hour, -every*2)
		completed.completed = true
		add("completed", completed)
		cancelled := reset(-time.Hour, -every*2)
		cancelled.cancelled = true
		add("cancelled", cancelled)
		pending := reset(-time.Hour, -every*2)
		pending.status = verification.StatusPendingReview
		add("pending", pending)
		rejected := reset(-time.Hour, -every*2)
		rejected.status = verification.StatusRejected
		add("rejected", rejected)
		tier := reset(-time.Hour, -every*2)
		tier.purpose = verification.PurposeTier
		add("tier", tier)
		other := reset(-time.Hour, -time.Hour)
		other.accountID = b.ID
		add("other_account", other)
		insertVerifications(t, s, vs...)
		due := func(limit int) []string {
			t.Helper()
			got, err := readTx(t, s, func(tx *store.Tx) ([]verification.Verification, error) {
				return tx.ResetsDue(ctx, now, every, limit)
			})
			if err != nil {
				t.Fatal(err)
			}
			return ids(got)
		}
		checkDue(t, due, []string{"ver_ended", "ver_ends_now", "ver_other_account", "ver_remind_now", "ver_remind_overdue"}, 3)
	})
}

func TestTakeProviderMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		take := func(provider, messageID string) bool {
			t.Helper()
			var ok bool
			write(t, s, func(tx *store.Tx) error {
				var err error
				ok, err = tx.TakeProviderMessage(ctx, provider, messageID, verNow)
				return err
			})
			return ok
		}
		for _, c := range []struct {
			provider, message string
			fresh             bool
		}{
			{"onfido", "msg-1", true},
			{"onfido", "msg-1", false}, // a replay
			{"veriff", "msg-1", true},  // another provider's ids are its own
			{"onfido", "msg-2", true},
			{"veriff", "msg-1", false},
		} {
			if got := take(c.provider, c.message); got != c.fresh {
				t.Errorf("take %s %s: %v, want %v", c.provider, c.message, got, c.fresh)
			}
		}
		// Two takes in one transaction: the second is a replay too.
		write(t, s, func(tx *store.Tx) error {
			first, err := tx.TakeProviderMessage(ctx, "onfido", "msg-3", verNow)
			if err != nil {
				return err
			}
			second, err := tx.TakeProviderMessage(ctx, "onfido", "msg-3", verNow)
			if !first || second {
				t.Errorf("in one transaction: %v then %v, want true then false", first, second)
			}
			return err
		})
	})
}
