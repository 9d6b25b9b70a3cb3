package verification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/notify"
)

// Purposes of a verification.
const (
	// PurposeTier reaches a tier (and its limits).
	PurposeTier = "tier"
	// PurposeMFAReset proves who the owner is, so a lost second factor can
	// be removed after a waiting period.
	PurposeMFAReset = "mfa_reset"
)

// Document kinds and sides.
const (
	KindPassport       = "passport"
	KindIDCard         = "id_card"
	KindDriversLicense = "drivers_license"
	KindSelfie         = "selfie"

	SideFront = "front"
	SideBack  = "back"
)

// Verification is one attempt at verification and its decision.
type Verification struct {
	ID         string
	AccountID  string
	Purpose    string
	Status     string
	TargetTier int
	// SealedInfo is the personal information, sealed by the service;
	// Service.PersonalInfo opens it.
	SealedInfo []byte
	InfoKeyID  string
	// Resubmit names the items a reviewer asked for again.
	Resubmit []string
	// Reason is the decision's explanation, shown to the user.
	Reason      string
	Reviewer    string
	ProviderRef string
	// AccessHash is the SHA-256 of the token that lets a 2FA reset, whose
	// owner cannot log in, upload and submit.
	AccessHash  string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SubmittedAt time.Time
	DecidedAt   time.Time
	// DocumentsPurgedAt is when retention removed the documents' content.
	DocumentsPurgedAt time.Time
	// A 2FA reset's waiting period: it takes effect at EffectiveAt unless
	// cancelled; RemindedAt is the last reminder email.
	EffectiveAt time.Time
	RemindedAt  time.Time
	CompletedAt time.Time
	CancelledAt time.Time
}

// Final tells whether a decision was made that no later step changes.
func (v Verification) Final() bool {
	return v.Status == StatusApproved || v.Status == StatusRejected || !v.CancelledAt.IsZero()
}

// Waiting tells whether an approved 2FA reset is in its waiting period.
func (v Verification) Waiting() bool {
	return v.Purpose == PurposeMFAReset && v.Status == StatusApproved && v.CompletedAt.IsZero() && v.CancelledAt.IsZero()
}

// Document is an uploaded document or selfie. Sealed is set only when the
// content was asked for (Tx.DocumentContent).
type Document struct {
	ID             string
	VerificationID string
	AccountID      string
	Kind           string
	Side           string
	MediaType      string
	SHA256         string
	Size           int64
	Width, Height  int
	Sealed         []byte
	KeyID          string
	CreatedAt      time.Time
	ReplacedAt     time.Time
	PurgedAt       time.Time
}

// Tx is what the service needs from one database transaction; the store implements it.
type Tx interface {
	account.Tx
	InsertVerification(ctx context.Context, v Verification) error
	// UpdateVerification is read-modify-write of a verification under a lock.
	UpdateVerification(ctx context.Context, id string, fn func(old Verification) (Verification, error)) (Verification, error)
	VerificationByID(ctx context.Context, id string) (Verification, error)
	// LatestVerification is the account's newest verification for purpose
	// with status (any status when empty).
	LatestVerification(ctx context.Context, accountID, purpose, status string) (Verification, error)
	// VerificationByAccess finds a 2FA reset by the hash of its access token.
	VerificationByAccess(ctx context.Context, accessHash string) (Verification, error)
	// Verifications lists by status (all when empty), oldest submission first.
	Verifications(ctx context.Context, status string, limit int) ([]Verification, error)
	// InsertDocument stores a document and marks the verification's earlier
	// upload of the same kind and side (any ID kind, for an ID) replaced.
	InsertDocument(ctx context.Context, d Document) error
	// DocumentsOf lists a verification's documents without their content,
	// replaced ones included.
	DocumentsOf(ctx context.Context, verificationID string) ([]Document, error)
	DocumentContent(ctx context.Context, documentID string) (Document, error)
	// ReplaceDocuments marks the verification's current documents of kinds replaced.
	ReplaceDocuments(ctx context.Context, verificationID string, kinds []string, now time.Time) error
	// PurgeDocuments drops the content of a verification's documents.
	PurgeDocuments(ctx context.Context, verificationID string, now time.Time) (int, error)
	// DecidedBefore lists verifications whose documents are not purged yet
	// and that were decided or cancelled before cutoff, or abandoned by the
	// user (not submitted, untouched since cutoff).
	DecidedBefore(ctx context.Context, cutoff time.Time, limit int) ([]Verification, error)
	// ResetsDue lists approved 2FA resets still waiting whose reminder or
	// end is due at now.
	ResetsDue(ctx context.Context, now time.Time, remindEvery time.Duration, limit int) ([]Verification, error)
	// RefreshSessions makes every node drop the account's sessions from its
	// cache (they carry the tier) and returns their hashes.
	RefreshSessions(ctx context.Context, accountID string) ([]string, error)
	// TakeProviderMessage records a provider's message id; false when it
	// was already taken (a replay).
	TakeProviderMessage(ctx context.Context, provider, messageID string, now time.Time) (bool, error)
}

// Policy holds the verification rules that are configuration.
type Policy struct {
	Tiers []Tier
	// AdultAge is the youngest age accepted (18).
	AdultAge int
	// Limits bound what an upload may be.
	Limits document.Limits
	// Retention is how long after a final decision the documents are kept.
	Retention time.Duration
	// ResetWait is the waiting period between an approved 2FA reset and the
	// removal of the second factors (48h); ResetReminder how often the owner
	// is reminded meanwhile (24h).
	ResetWait     time.Duration
	ResetReminder time.Duration
}

// Service carries out verification actions, each in one transaction with its
// audit record, email and webhook.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	View     func(ctx context.Context, fn func(tx Tx) error) error
	Accounts *account.Service
	Keys     *keyring.Keyring
	Policy   Policy
	Now      func() time.Time
	// Factors removes the second factors when a 2FA reset takes effect.
	Factors func(ctx context.Context, tx Tx, a account.Account, now time.Time) (account.Account, error)
	// Approved, if set, runs in the transaction of every approved tier
	// verification that was reviewed (it lifts the restrictions that wait
	// for one: personal information alone, granted on submission, proves
	// too little to lift them).
	Approved func(ctx context.Context, tx Tx, a account.Account, now time.Time) error
	// AwaitsVerification, if set, tells whether something waits for the
	// account to verify again (a restriction that a verification lifts).
	// At the highest tier, or any tier reached by review, the account may
	// then verify again at its own tier.
	AwaitsVerification func(ctx context.Context, tx Tx, a account.Account, now time.Time) (bool, error)
}

// The errors of the service; the API maps them to its codes.
var (
	// ErrIncomplete: submitted without what the next tier requires.
	ErrIncomplete = errors.New("verification incomplete")
	// ErrLocked: the verification waits for review or was decided; nothing
	// can be changed until a reviewer asks for more or a new one starts.
	ErrLocked = errors.New("verification cannot be changed now")
	// ErrBadKind: a document kind or side that does not exist.
	ErrBadKind = errors.New("unknown document kind or side")
	// ErrNoVerification: no such verification (or not the caller's).
	ErrNoVerification = errors.New("no such verification")
	// ErrDecided: a review of a verification that is not waiting for one.
	ErrDecided = errors.New("verification is not pending review")
	// ErrNoReset: no 2FA reset to cancel or continue.
	ErrNoReset = errors.New("no 2FA reset in progress")
	// ErrPurged: the document's content was removed by retention.
	ErrPurged = errors.New("document purged")
)

// ValidationError lists invalid fields of the personal information.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	return fmt.Sprintf("verification: %d invalid fields", len(e.Fields))
}

// IncompleteError is ErrIncomplete with what is missing.
type IncompleteError struct{ Missing []string }

func (e *IncompleteError) Error() string {
	return "verification incomplete: missing " + strings.Join(e.Missing, ", ")
}

// Is makes an IncompleteError an ErrIncomplete.
func (e *IncompleteError) Is(target error) bool { return target == ErrIncomplete }

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

func infoBinding(verificationID string) []byte {
	return keyring.Binding("verifications", "personal_info", verificationID)
}

func documentBinding(documentID string) []byte {
	return keyring.Binding("verification_documents", "content", documentID)
}

// TierByLevel finds a configured tier; level 0 always exists.
func (p Policy) TierByLevel(level int) Tier {
	for _, t := range p.Tiers {
		if t.Level == level {
			return t
		}
	}
	return Tier{Level: level, Requires: []string{RequireEmailVerified}}
}

// reviewed tells whether reaching t needs a person (or provider) to look at
// documents; a tier of personal information alone is granted on submission.
func reviewed(t Tier) bool {
	return slices.Contains(t.Requires, RequireIDDocument) || slices.Contains(t.Requires, RequireSelfie)
}

// Overview is the user's view: where they are and what is left.
type Overview struct {
	Tier   int
	Status string
	// Requirements lists what is still needed for the highest tier: the
	// wizard leads there (a lower tier on the way is granted on submission
	// if it needs no review).
	Requirements []string
	// NextTier is the tier to verify for: the first above Tier, or Tier
	// itself when Reverify.
	NextTier *Tier
	// Reverify: something awaits a verification (a restriction) and there
	// is no reviewed tier above, so the account verifies again at its own
	// tier, with fresh documents.
	Reverify  bool
	Current   Verification
	HasInfo   bool
	Documents []Document // current (not replaced) ones
	// Reset is the account's 2FA reset, if one is open or waiting.
	Reset *Verification
}

// Have lists the requirements met by the account and its open verification.
func have(a account.Account, v Verification, docs []Document) []string {
	var out []string
	if a.Verified() {
		out = append(out, RequireEmailVerified)
	}
	if len(v.SealedInfo) > 0 {
		out = append(out, RequirePersonalInfo)
	}
	if IDComplete(docs) {
		out = append(out, RequireIDDocument)
	}
	if slices.ContainsFunc(docs, func(d Document) bool { return d.Kind == KindSelfie }) {
		out = append(out, RequireSelfie)
	}
	return out
}

// current keeps the documents not replaced.
func current(docs []Document) []Document {
	return slices.DeleteFunc(slices.Clone(docs), func(d Document) bool { return !d.ReplacedAt.IsZero() })
}

// IDComplete tells whether docs hold a whole government ID: a passport's
// photo page, or both sides of an ID card or of a driving licence.
func IDComplete(docs []Document) bool {
	sides := map[string]map[string]bool{}
	for _, d := range docs {
		if !d.ReplacedAt.IsZero() {
			continue
		}
		if sides[d.Kind] == nil {
			sides[d.Kind] = map[string]bool{}
		}
		sides[d.Kind][d.Side] = true
	}
	if sides[KindPassport][SideFront] {
		return true
	}
	for _, k := range []string{KindIDCard, KindDriversLicense} {
		if sides[k][SideFront] && sides[k][SideBack] {
			return true
		}
	}
	return false
}

// ValidDocument tells whether kind and side name a document Warden takes.
func ValidDocument(kind, side string) bool {
	switch kind {
	case KindPassport:
		return side == SideFront || side == ""
	case KindIDCard, KindDriversLicense:
		return side == SideFront || side == SideBack
	case KindSelfie:
		return side == ""
	}
	return false
}

// reverifyTier is the tier an account verifies for next: the first tier
// above its own; or, when something awaits a verification and no reviewed
// tier lies above, its own tier again (if that one is reviewed). Nil when
// there is nothing to verify for.
func (s *Service) reverifyTier(ctx context.Context, tx Tx, a account.Account, now time.Time) (*Tier, bool, error) {
	next := s.Policy.nextTier(a.VerificationTier)
	for t := next; t != nil; t = s.Policy.nextTier(t.Level) {
		if reviewed(*t) {
			return next, false, nil // climbing there is the verification awaited
		}
	}
	own := s.Policy.TierByLevel(a.VerificationTier)
	if s.AwaitsVerification == nil || !reviewed(own) {
		return next, false, nil
	}
	awaits, err := s.AwaitsVerification(ctx, tx, a, now)
	if err != nil || !awaits {
		return next, false, err
	}
	return &own, true, nil
}

// nextTier is the first configured tier above level.
func (p Policy) nextTier(level int) *Tier {
	var next *Tier
	for _, t := range p.Tiers {
		if t.Level > level && (next == nil || t.Level < next.Level) {
			next = &t
		}
	}
	return next
}

// topTier is the highest configured tier.
func (p Policy) topTier() Tier {
	top := p.TierByLevel(0)
	for _, t := range p.Tiers {
		if t.Level > top.Level {
			top = t
		}
	}
	return top
}

// Overview reads the account's verification state.
func (s *Service) Overview(ctx context.Context, accountID string) (Overview, error) {
	var o Overview
	err := s.View(ctx, func(tx Tx) error {
		var err error
		o, err = s.overview(ctx, tx, accountID)
		return err
	})
	return o, err
}

func (s *Service) overview(ctx context.Context, tx Tx, accountID string) (Overview, error) {
	a, err := tx.AccountByID(ctx, accountID)
	if err != nil {
		return Overview{}, err
	}
	o := Overview{Tier: a.VerificationTier, Status: StatusNotStarted}
	v, err := tx.LatestVerification(ctx, accountID, PurposeTier, "")
	switch {
	case isNotFound(err):
	case err != nil:
		return Overview{}, err
	default:
		o.Current, o.Status, o.HasInfo = v, v.Status, len(v.SealedInfo) > 0
		if v.Final() {
			o.HasInfo = len(approvedInfo(v)) > 0 // carried into the next one, or not
		}
		docs, err := tx.DocumentsOf(ctx, v.ID)
		if err != nil {
			return Overview{}, err
		}
		o.Documents = current(docs)
	}
	if o.NextTier, o.Reverify, err = s.reverifyTier(ctx, tx, a, s.now()); err != nil {
		return Overview{}, err
	}
	if o.NextTier != nil {
		got := have(a, o.Current, o.Documents)
		if o.Current.Final() {
			// A decided verification is history: the next one starts with
			// no documents, and with the personal information only if it
			// was approved (it is carried over).
			got = have(a, Verification{SealedInfo: approvedInfo(o.Current)}, nil)
			o.Documents = nil
			if o.Current.Status == StatusApproved {
				o.Status = StatusNotStarted
			}
		}
		o.Requirements = Missing(s.Policy.topTier(), got)
		if o.Reverify {
			o.Requirements = Missing(*o.NextTier, got)
		}
	}
	r, err := tx.LatestVerification(ctx, accountID, PurposeMFAReset, "")
	if err == nil && r.CompletedAt.IsZero() && r.CancelledAt.IsZero() && r.Status != StatusRejected {
		o.Reset = &r
	} else if err != nil && !isNotFound(err) {
		return Overview{}, err
	}
	return o, nil
}

func approvedInfo(v Verification) []byte {
	if v.Status == StatusApproved {
		return v.SealedInfo
	}
	return nil
}

// PersonalInfo opens a verification's personal information.
func (s *Service) PersonalInfo(v Verification) (PersonalInfo, error) {
	var p PersonalInfo
	if len(v.SealedInfo) == 0 {
		return p, nil
	}
	plain, err := s.Keys.Open(v.SealedInfo, infoBinding(v.ID))
	if err != nil {
		return p, fmt.Errorf("open personal info of %s: %w", v.ID, err)
	}
	return p, json.Unmarshal(plain, &p)
}

// open finds the account's editable verification for purpose, starting one
// when there is none (or the last was decided). A new tier verification
// carries over the personal information of the last approved one.
func (s *Service) open(ctx context.Context, tx Tx, a account.Account, purpose string, now time.Time) (Verification, error) {
	v, err := tx.LatestVerification(ctx, a.ID, purpose, "")
	if err != nil && !isNotFound(err) {
		return Verification{}, err
	}
	if err == nil && v.Waiting() {
		return Verification{}, ErrLocked
	}
	if err == nil && !v.Final() {
		switch v.Status {
		case StatusPendingReview:
			return Verification{}, ErrLocked
		case StatusApproved: // a waiting 2FA reset
			return Verification{}, ErrLocked
		}
		return v, nil
	}
	fresh := Verification{ID: id.New("ver"), AccountID: a.ID, Purpose: purpose, Status: StatusNotStarted, CreatedAt: now, UpdatedAt: now}
	if err == nil && purpose == PurposeTier && v.Status == StatusApproved && len(v.SealedInfo) > 0 {
		info, err := s.PersonalInfo(v)
		if err != nil {
			return Verification{}, err
		}
		if fresh.SealedInfo, err = s.sealInfo(fresh.ID, info); err != nil {
			return Verification{}, err
		}
		fresh.InfoKeyID = s.Keys.PrimaryID()
	}
	if err := tx.InsertVerification(ctx, fresh); err != nil {
		return Verification{}, err
	}
	return fresh, nil
}

func (s *Service) sealInfo(verificationID string, p PersonalInfo) ([]byte, error) {
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return s.Keys.Seal(plain, infoBinding(verificationID))
}

// edit moves v by an edit (not_started or resubmission_requested become in_progress).
func edit(v Verification, now time.Time) (Verification, error) {
	to, err := Next(v.Status, EventEdit)
	if err != nil {
		return v, ErrLocked
	}
	v.Status, v.UpdatedAt = to, now
	return v, nil
}

// SavePersonalInfo validates and stores the personal information on the
// account's open tier verification.
func (s *Service) SavePersonalInfo(ctx context.Context, a account.Account, p PersonalInfo, m account.Meta) (Overview, error) {
	now := s.now()
	p = p.Normalize()
	if errs := p.Validate(now, s.Policy.AdultAge); len(errs) > 0 {
		return Overview{}, &ValidationError{Fields: errs}
	}
	var o Overview
	err := s.Transact(ctx, func(tx Tx) error {
		v, err := s.open(ctx, tx, a, PurposeTier, now)
		if err != nil {
			return err
		}
		sealed, err := s.sealInfo(v.ID, p)
		if err != nil {
			return err
		}
		if _, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
			old, err := edit(old, now)
			old.SealedInfo, old.InfoKeyID = sealed, s.Keys.PrimaryID()
			old.Resubmit = slices.DeleteFunc(old.Resubmit, func(r string) bool { return r == RequirePersonalInfo })
			return old, err
		}); err != nil {
			return err
		}
		// The audit record says that it changed, not what it says: the
		// personal data stays in its sealed column.
		if err := s.Accounts.Record(ctx, tx, a, "verification.personal_info_saved", m, now, map[string]any{"verification_id": v.ID, "country": p.Country}); err != nil {
			return err
		}
		o, err = s.overview(ctx, tx, a.ID)
		return err
	})
	return o, err
}

// Upload is a document or selfie as the user sent it.
type Upload struct {
	Kind, Side string
	Data       []byte
}

// AddDocument cleans an upload (type by content, limits, metadata removed),
// seals it and stores it on the open verification for purpose, replacing an
// earlier upload of the same kind and side.
func (s *Service) AddDocument(ctx context.Context, a account.Account, purpose string, u Upload, m account.Meta) (Document, error) {
	if u.Kind == KindPassport && u.Side == "" {
		u.Side = SideFront
	}
	if !ValidDocument(u.Kind, u.Side) {
		return Document{}, ErrBadKind
	}
	cleaned, err := document.Clean(u.Data, s.Policy.Limits)
	if err != nil {
		return Document{}, err
	}
	if u.Kind == KindSelfie && cleaned.Kind == document.KindPDF {
		return Document{}, fmt.Errorf("%w: a selfie must be a photo (JPEG or PNG)", document.ErrUnsupported)
	}
	now := s.now()
	d := Document{ID: id.New("doc"), AccountID: a.ID, Kind: u.Kind, Side: u.Side, MediaType: string(cleaned.Kind),
		SHA256: cleaned.SHA256, Size: int64(len(cleaned.Data)), Width: cleaned.Width, Height: cleaned.Height,
		KeyID: s.Keys.PrimaryID(), CreatedAt: now}
	if d.Sealed, err = s.Keys.Seal(cleaned.Data, documentBinding(d.ID)); err != nil {
		return Document{}, err
	}
	err = s.Transact(ctx, func(tx Tx) error {
		v, err := s.open(ctx, tx, a, purpose, now)
		if err != nil {
			return err
		}
		d.VerificationID = v.ID
		if _, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
			old, err := edit(old, now)
			item := RequireSelfie
			if u.Kind != KindSelfie {
				item = RequireIDDocument
			}
			old.Resubmit = slices.DeleteFunc(old.Resubmit, func(r string) bool { return r == item })
			return old, err
		}); err != nil {
			return err
		}
		if err := tx.InsertDocument(ctx, d); err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "verification.document_added", m, now, map[string]any{
			"verification_id": v.ID, "document_id": d.ID, "kind": d.Kind, "side": d.Side,
			"media_type": d.MediaType, "sha256": d.SHA256, "size": d.Size,
		})
	})
	d.Sealed = nil
	return d, err
}

// Submit asks for review of the open tier verification. It aims at the
// highest tier whose requirements are all met; a tier without documents is
// granted at once.
func (s *Service) Submit(ctx context.Context, a account.Account, m account.Meta) (Overview, error) {
	now := s.now()
	var o Overview
	var stale []string // sessions carrying the old tier
	err := s.Transact(ctx, func(tx Tx) error {
		v, err := tx.LatestVerification(ctx, a.ID, PurposeTier, "")
		next, reverify, rerr := s.reverifyTier(ctx, tx, a, now)
		if rerr != nil {
			return rerr
		}
		if isNotFound(err) || (err == nil && v.Final()) {
			var missing []string
			if next != nil {
				missing = Missing(*next, have(a, Verification{}, nil))
			}
			return &IncompleteError{Missing: missing}
		}
		if err != nil {
			return err
		}
		if v.Status == StatusPendingReview {
			return ErrLocked
		}
		docs, err := tx.DocumentsOf(ctx, v.ID)
		if err != nil {
			return err
		}
		got := have(a, v, current(docs))
		target := -1
		for _, t := range s.Policy.Tiers {
			if t.Level > a.VerificationTier && len(Missing(t, got)) == 0 && t.Level > target {
				target = t.Level
			}
		}
		if target < 0 && reverify && len(Missing(*next, got)) == 0 {
			target = next.Level
		}
		if target < 0 {
			var missing []string
			if next != nil {
				missing = Missing(*next, got)
			}
			return &IncompleteError{Missing: missing}
		}
		if len(v.Resubmit) > 0 {
			return &IncompleteError{Missing: v.Resubmit}
		}
		v, err = tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
			to, err := Next(old.Status, EventSubmit)
			if err != nil {
				return old, ErrLocked
			}
			old.Status, old.TargetTier, old.SubmittedAt, old.UpdatedAt = to, target, now, now
			old.Reason = ""
			return old, nil
		})
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "verification.submitted", m, now, map[string]any{"verification_id": v.ID, "target_tier": target}); err != nil {
			return err
		}
		if reviewed(s.Policy.TierByLevel(target)) {
			if err := s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
				"subject": "We received your verification",
				"lines":   []string{"Thank you. We are checking your documents and will email you when it is done, usually within a day."},
			}, false, now); err != nil {
				return err
			}
		} else if err := s.decide(ctx, tx, v, EventApprove, "", nil, account.Meta{Actor: "system"}, now, &stale); err != nil {
			return err
		}
		o, err = s.overview(ctx, tx, a.ID)
		return err
	})
	if err == nil {
		s.Accounts.AfterCommit(stale)
	}
	return o, err
}

// Review is what a reviewer sees of one verification.
type Review struct {
	Verification Verification
	Account      account.Account
	Info         PersonalInfo
	Documents    []Document
	// Previous is the account's last approved tier verification, for a 2FA
	// reset's reviewer to compare the new selfie with.
	Previous          *Verification
	PreviousDocuments []Document
}

// Queue lists verifications by status (every status when empty), oldest
// submission first.
func (s *Service) Queue(ctx context.Context, status string, limit int) ([]Verification, error) {
	var out []Verification
	err := s.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Verifications(ctx, status, limit)
		return err
	})
	return out, err
}

// Review reads a verification for its reviewer. It does not open the
// documents: each view of one is its own audited call (OpenDocument).
func (s *Service) Review(ctx context.Context, verificationID string) (Review, error) {
	var r Review
	err := s.View(ctx, func(tx Tx) error {
		v, err := tx.VerificationByID(ctx, verificationID)
		if isNotFound(err) {
			return ErrNoVerification
		}
		if err != nil {
			return err
		}
		r.Verification = v
		if r.Account, err = tx.AccountByID(ctx, v.AccountID); err != nil {
			return err
		}
		if r.Documents, err = tx.DocumentsOf(ctx, v.ID); err != nil {
			return err
		}
		if v.Purpose == PurposeMFAReset {
			prev, err := s.lastApproved(ctx, tx, v.AccountID)
			if err != nil {
				return err
			}
			if prev != nil {
				r.Previous = prev
				if r.PreviousDocuments, err = tx.DocumentsOf(ctx, prev.ID); err != nil {
					return err
				}
				if r.Info, err = s.PersonalInfo(*prev); err != nil {
					return err
				}
			}
			return nil
		}
		r.Info, err = s.PersonalInfo(v)
		return err
	})
	return r, err
}

// lastApproved is the account's newest approved tier verification, or nil.
func (s *Service) lastApproved(ctx context.Context, tx Tx, accountID string) (*Verification, error) {
	v, err := tx.LatestVerification(ctx, accountID, PurposeTier, StatusApproved)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Opened is a document's content, for a reviewer.
type Opened struct {
	Document
	Data []byte
}

// OpenDocument decrypts a document for a reviewer and records the view in
// the audit log, in the same transaction: there is no unaudited way to see one.
func (s *Service) OpenDocument(ctx context.Context, documentID string, m account.Meta) (Opened, error) {
	now := s.now()
	var out Opened
	err := s.Transact(ctx, func(tx Tx) error {
		d, err := tx.DocumentContent(ctx, documentID)
		if isNotFound(err) {
			return ErrNoVerification
		}
		if err != nil {
			return err
		}
		if !d.PurgedAt.IsZero() || len(d.Sealed) == 0 {
			return ErrPurged
		}
		plain, err := s.Keys.Open(d.Sealed, documentBinding(d.ID))
		if err != nil {
			return fmt.Errorf("open document %s: %w", d.ID, err)
		}
		a, err := tx.AccountByID(ctx, d.AccountID)
		if err != nil {
			return err
		}
		d.Sealed, out = nil, Opened{Document: d, Data: plain}
		return s.Accounts.Record(ctx, tx, a, "verification.document_viewed", m, now, map[string]any{
			"verification_id": d.VerificationID, "document_id": d.ID, "kind": d.Kind, "sha256": d.SHA256,
		})
	})
	return out, err
}

// Decision is a reviewer's verdict.
type Decision struct {
	// Event is EventApprove, EventReject or EventRequestResubmission.
	Event  string
	Reason string
	// Resubmit names the items to send again (personal_info, id_document,
	// selfie) for EventRequestResubmission.
	Resubmit []string
}

// ErrBadDecision is a decision that does not make sense (resubmission of nothing, say).
var ErrBadDecision = errors.New("invalid decision")

// Decide records a reviewer's decision on a pending verification.
func (s *Service) Decide(ctx context.Context, verificationID string, d Decision, m account.Meta) (Verification, error) {
	if err := d.check(); err != nil {
		return Verification{}, err
	}
	now := s.now()
	var v Verification
	var stale []string // sessions carrying the old tier
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		v, err = tx.VerificationByID(ctx, verificationID)
		if isNotFound(err) {
			return ErrNoVerification
		}
		if err != nil {
			return err
		}
		if v.Status != StatusPendingReview {
			return ErrDecided
		}
		if err := s.decide(ctx, tx, v, d.Event, d.Reason, d.Resubmit, m, now, &stale); err != nil {
			return err
		}
		v, err = tx.VerificationByID(ctx, verificationID)
		return err
	})
	if err == nil {
		s.Accounts.AfterCommit(stale)
	}
	return v, err
}

func (d Decision) check() error {
	switch d.Event {
	case EventApprove:
		return nil
	case EventReject:
		if strings.TrimSpace(d.Reason) == "" {
			return fmt.Errorf("%w: a rejection needs a reason the user can read", ErrBadDecision)
		}
		return nil
	case EventRequestResubmission:
		if len(d.Resubmit) == 0 {
			return fmt.Errorf("%w: name what to send again", ErrBadDecision)
		}
		for _, r := range d.Resubmit {
			if r != RequirePersonalInfo && r != RequireIDDocument && r != RequireSelfie {
				return fmt.Errorf("%w: %q cannot be sent again (personal_info, id_document, selfie)", ErrBadDecision, r)
			}
		}
		if strings.TrimSpace(d.Reason) == "" {
			return fmt.Errorf("%w: say what was wrong", ErrBadDecision)
		}
		return nil
	}
	return fmt.Errorf("%w: %q is not approve, reject or request_resubmission", ErrBadDecision, d.Event)
}

// decide moves a pending verification by a decision, with everything it
// causes: the tier, the documents asked again, the audit record, the email
// and the webhook.
func (s *Service) decide(ctx context.Context, tx Tx, v Verification, event, reason string, resubmit []string, m account.Meta, now time.Time, stale *[]string) error {
	reviewer := m.Actor
	v, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
		to, err := Next(old.Status, event)
		if err != nil || !old.CancelledAt.IsZero() {
			return old, ErrDecided // a cancelled reset stays cancelled
		}
		old.Status, old.Reason, old.Reviewer, old.UpdatedAt = to, strings.TrimSpace(reason), reviewer, now
		old.Resubmit = nil
		switch event {
		case EventRequestResubmission:
			old.Resubmit = slices.Compact(slices.Sorted(slices.Values(resubmit)))
		default:
			old.DecidedAt = now
		}
		if old.Purpose == PurposeMFAReset && event == EventApprove {
			old.EffectiveAt, old.RemindedAt = now.Add(s.Policy.ResetWait), now
		}
		return old, nil
	})
	if err != nil {
		return err
	}
	if event == EventRequestResubmission {
		kinds := []string{}
		for _, r := range v.Resubmit {
			switch r {
			case RequireIDDocument:
				kinds = append(kinds, KindPassport, KindIDCard, KindDriversLicense)
			case RequireSelfie:
				kinds = append(kinds, KindSelfie)
			}
		}
		if err := tx.ReplaceDocuments(ctx, v.ID, kinds, now); err != nil {
			return err
		}
	}
	a, err := tx.AccountByID(ctx, v.AccountID)
	if err != nil {
		return err
	}
	if v.Purpose == PurposeTier && event == EventApprove && v.TargetTier > a.VerificationTier {
		if a, err = tx.UpdateAccount(ctx, a.ID, func(old account.Account) (account.Account, error) {
			old.VerificationTier = max(old.VerificationTier, v.TargetTier)
			return old, nil
		}); err != nil {
			return err
		}
		// Sessions carry the tier: every node must read it afresh.
		if *stale, err = tx.RefreshSessions(ctx, a.ID); err != nil {
			return err
		}
	}
	if v.Purpose == PurposeTier && event == EventApprove && s.Approved != nil && reviewed(s.Policy.TierByLevel(v.TargetTier)) {
		if err := s.Approved(ctx, tx, a, now); err != nil {
			return err
		}
	}
	action := map[string]string{EventApprove: "verification.approved", EventReject: "verification.rejected",
		EventRequestResubmission: "verification.resubmission_requested"}[event]
	if v.Purpose == PurposeMFAReset {
		action = strings.Replace(action, "verification.", "mfa_reset.", 1)
	}
	if err := s.Accounts.Record(ctx, tx, a, action, m, now, map[string]any{
		"verification_id": v.ID, "purpose": v.Purpose, "tier": v.TargetTier, "reason": v.Reason, "resubmit": v.Resubmit,
	}); err != nil {
		return err
	}
	if v.Purpose == PurposeTier && event != EventRequestResubmission {
		if _, err := notify.EnqueueWebhookEvent(ctx, tx, now, action, map[string]any{
			"user_id": a.ID, "verification_id": v.ID, "tier": a.VerificationTier, "reason": v.Reason, "decided_at": now,
		}); err != nil {
			return err
		}
	}
	return s.Accounts.Notify(ctx, tx, a, "account_notice", s.decisionEmail(v, a, event), v.Purpose == PurposeMFAReset, now)
}

func (s *Service) decisionEmail(v Verification, a account.Account, event string) map[string]any {
	link := s.Accounts.BaseURL + "/verification"
	if v.Purpose == PurposeMFAReset {
		switch event {
		case EventApprove:
			return map[string]any{"subject": "Your two-factor reset was approved",
				"lines": []string{
					fmt.Sprintf("Two-factor authentication will be removed from your account on %s, after a waiting period that protects you if this was not you.", v.EffectiveAt.Format("2006-01-02 15:04 UTC")),
					"If you did not ask for this, freeze your account now with the link below, or log in with your second factor and cancel the reset.",
				}}
		case EventReject:
			return map[string]any{"subject": "Your two-factor reset was not approved", "lines": []string{v.Reason,
				"Your second factor is unchanged. If you did not ask for a reset, someone may know your password: change it."}}
		}
		return map[string]any{"subject": "Your two-factor reset needs more from you", "lines": []string{v.Reason,
			"Log in with your password again and choose \"Lost your authenticator and recovery codes?\" to send " + itemWords(v.Resubmit) + " again."}}
	}
	switch event {
	case EventApprove:
		t := s.Policy.TierByLevel(a.VerificationTier)
		return map[string]any{"subject": "Your identity is verified", "action_url": s.Accounts.BaseURL + "/limits", "action_label": "See your limits",
			"lines": []string{fmt.Sprintf("Your account is now at tier %d (%s).", t.Level, t.Name)}}
	case EventReject:
		return map[string]any{"subject": "We could not verify your identity", "action_url": link, "action_label": "Open verification",
			"lines": []string{v.Reason, "You can start a new verification."}}
	}
	return map[string]any{"subject": "Your verification needs another look", "action_url": link, "action_label": "Continue verification",
		"lines": []string{v.Reason, "Please send " + itemWords(v.Resubmit) + " again."}}
}

// itemWords names requirements for a person: "your ID document and a selfie".
func itemWords(items []string) string {
	words := map[string]string{RequirePersonalInfo: "your personal information", RequireIDDocument: "your ID document", RequireSelfie: "a selfie"}
	var out []string
	for _, i := range items {
		if w, ok := words[i]; ok {
			out = append(out, w)
		}
	}
	switch len(out) {
	case 0:
		return "the items asked for"
	case 1:
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
}

// PurgeDue removes the documents of verifications decided (or abandoned)
// more than the retention period ago; the decision, hashes and audit
// records stay. It
// returns how many documents it purged.
func (s *Service) PurgeDue(ctx context.Context) (int, error) {
	now := s.now()
	total := 0
	for {
		var batch []Verification
		err := s.View(ctx, func(tx Tx) error {
			var err error
			batch, err = tx.DecidedBefore(ctx, now.Add(-s.Policy.Retention), 100)
			return err
		})
		if err != nil || len(batch) == 0 {
			return total, err
		}
		for _, v := range batch {
			err := s.Transact(ctx, func(tx Tx) error {
				n, err := tx.PurgeDocuments(ctx, v.ID, now)
				if err != nil {
					return err
				}
				if _, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
					old.DocumentsPurgedAt = now
					return old, nil
				}); err != nil {
					return err
				}
				total += n
				a, err := tx.AccountByID(ctx, v.AccountID)
				if err != nil {
					return err
				}
				return s.Accounts.Record(ctx, tx, a, "verification.documents_purged", account.Meta{Actor: "system"}, now, map[string]any{
					"verification_id": v.ID, "documents": n, "decided_at": v.DecidedAt, "retention_days": int(s.Policy.Retention.Hours() / 24),
				})
			})
			if err != nil {
				return total, fmt.Errorf("purge documents of %s: %w", v.ID, err)
			}
		}
	}
}
