// Package cases keeps the cases staff investigate, of two kinds.
//
// A user's report that their account is compromised (KindUserReport)
// freezes the account (if it is not frozen yet) and opens a case in the
// same transaction, with the user's words and a snapshot of what Warden
// knew of the account at that moment: its recent logins with their risk
// decisions, its devices, its sessions and its withdrawals. Staff resolve
// the case with a note meant for the user, who follows its state on the
// report page or through the API.
//
// Monitoring alerts grouped for investigation (KindAlerts): the monitor
// opens one when a rule acts on an account (restrict, freeze) or fires at
// high severity, and staff can open one from any alert; while it is open,
// the user's new alerts join it. Resolving it as a true or false positive
// resolves its open alerts the same way. The user is not told of it.
//
// A report while the user's case is still open is added to that case (with
// its own snapshot) rather than opening another one: staff see one case per
// incident, with every statement in order. Once a case is resolved, the next
// report opens a new one.
//
// A reporter whose account is frozen has no session. Besides a session, a
// report is therefore accepted with a "this wasn't me" freeze token from a
// security email (spent by the report), with a short-lived report grant
// handed out right after a freeze (Grant), or with the access token an
// earlier report returned. Every report returns a fresh access token that
// lets its holder read the case for Policy.AccessTTL.
//
// Rules live here, free of HTTP and SQL; the store implements Tx.
package cases

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Kinds of case.
const (
	// KindUserReport is a user's report of a compromised account.
	KindUserReport = "user_report"
	// KindAlerts is a user's monitoring alerts, grouped for investigation.
	KindAlerts = "alerts"
)

// Statuses of a case.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
)

// Resolutions of a case.
const (
	// ResolutionCompromised: someone else did get into the account.
	ResolutionCompromised = "compromised"
	// ResolutionNotCompromised: nothing shows anyone else got in.
	ResolutionNotCompromised = "not_compromised"
	// ResolutionInconclusive: it could not be told either way.
	ResolutionInconclusive = "inconclusive"
)

// Resolutions of an alerts case, which its open alerts take too.
const (
	ResolutionTruePositive  = "true_positive"
	ResolutionFalsePositive = "false_positive"
)

// Resolutions lists a report's resolutions in the order forms offer them.
var Resolutions = []string{ResolutionCompromised, ResolutionNotCompromised, ResolutionInconclusive}

// AlertResolutions lists an alerts case's resolutions, in the same order.
var AlertResolutions = []string{ResolutionTruePositive, ResolutionFalsePositive}

// ResolutionsOf lists the resolutions a case of kind takes.
func ResolutionsOf(kind string) []string {
	if kind == KindAlerts {
		return AlertResolutions
	}
	return Resolutions
}

// How a report reached Warden.
const (
	ViaSession    = "session"     // a signed-in user
	ViaFreezeLink = "freeze_link" // a "this wasn't me" token from a security email
	ViaGrant      = "report_link" // the grant handed out right after a freeze
	ViaAccess     = "case_link"   // the access token of an earlier report
)

// PurposeReportGrant is the email-token purpose of a report grant: a
// single-use token that lets the owner of an account just frozen report it
// without a session.
const PurposeReportGrant = "case_report"

// Bounds of the texts, in characters.
const (
	MaxStatement = 4000
	MaxNote      = 2000
)

// FreezeReason is the freeze reason a report gives (audit log, webhook).
const FreezeReason = "reported compromised by the owner"

// Case is one case for staff.
type Case struct {
	ID        string
	AccountID string
	Kind      string
	Status    string
	// Froze: one of its reports froze the account (it was not frozen before).
	Froze bool
	// Resolution and UserNote are staff's conclusion. A report's UserNote
	// is written for the user and shown to them; an alerts case's is the
	// note its alerts were resolved with. InternalNote is for staff only.
	Resolution   string
	UserNote     string
	InternalNote string
	ResolvedBy   string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ResolvedAt   time.Time
	// Reports are the case's reports, oldest first; filled when one case
	// is read (not in listings, which fill ReportCount).
	Reports     []Report
	ReportCount int
	// Alerts are an alerts case's alerts, oldest first; filled when one
	// case is read (listings fill AlertCount).
	Alerts     []CaseAlert
	AlertCount int
	// Summary is the first report's statement, or the first alert's rule
	// description, in listings.
	Summary string
}

// CaseAlert is a monitoring alert as an alerts case shows it.
type CaseAlert struct {
	ID          string
	RuleID      string
	EventID     string
	EventType   string
	Action      string
	Severity    string
	Description string
	Status      string
	Resolution  string
	CreatedAt   time.Time
}

// Open tells whether the case waits for staff.
func (c Case) Open() bool { return c.Status != StatusResolved }

// Report is one report of a case.
type Report struct {
	ID        string
	CaseID    string
	AccountID string
	// Statement is the user's words.
	Statement string
	Via       string
	IP        string
	UserAgent string
	// Froze: this report froze the account.
	Froze    bool
	Snapshot Snapshot
	// AccessHash is the SHA-256 of the token returned to the reporter;
	// it reads the case until AccessExpiresAt.
	AccessHash      string
	AccessExpiresAt time.Time
	CreatedAt       time.Time
}

// Snapshot is what Warden knew of the account when a report came in,
// before the report froze it (the sessions it then ended are listed).
type Snapshot struct {
	TakenAt          time.Time            `json:"taken_at"`
	WasFrozen        bool                 `json:"was_frozen"`
	MFAEnabled       bool                 `json:"mfa_enabled"`
	VerificationTier int                  `json:"verification_tier"`
	Logins           []SnapshotLogin      `json:"logins"`
	Devices          []SnapshotDevice     `json:"devices"`
	Sessions         []SnapshotSession    `json:"sessions"`
	Withdrawals      []SnapshotWithdrawal `json:"withdrawals"`
}

// SnapshotLogin is a login attempt with its risk decision.
type SnapshotLogin struct {
	At       time.Time `json:"at"`
	Outcome  string    `json:"outcome"`
	Reasons  []string  `json:"reasons"`
	Score    int       `json:"score"`
	IP       string    `json:"ip,omitempty"`
	Place    string    `json:"place,omitempty"`
	DeviceID string    `json:"device_id,omitempty"`
}

// SnapshotDevice is a device the account used (not forgotten).
type SnapshotDevice struct {
	ID          string    `json:"id"`
	Description string    `json:"description"`
	UserAgent   string    `json:"user_agent,omitempty"`
	LastIP      string    `json:"last_ip,omitempty"`
	LastPlace   string    `json:"last_place,omitempty"`
	Trusted     bool      `json:"trusted"`
	FirstSeenAt time.Time `json:"first_seen_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
}

// SnapshotSession is a session that was active.
type SnapshotSession struct {
	ID         string    `json:"id"`
	AAL        string    `json:"aal"`
	DeviceID   string    `json:"device_id,omitempty"`
	IP         string    `json:"ip,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// SnapshotWithdrawal is a withdrawal request, its status as it was then.
type SnapshotWithdrawal struct {
	ID             string    `json:"id"`
	Status         string    `json:"status"`
	Asset          string    `json:"asset"`
	Network        string    `json:"network"`
	Amount         string    `json:"amount"`
	Address        string    `json:"address"`
	ReferenceValue string    `json:"reference_value"`
	Currency       string    `json:"currency"`
	DeviceID       string    `json:"device_id,omitempty"`
	IP             string    `json:"ip,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Filter selects cases, newest first.
type Filter struct {
	Status    string // "" for every status
	AccountID string // "" for every account
	Kind      string // "" for every kind
	Limit     int
}

// Tx is what the service needs from one database transaction; the store implements it.
type Tx interface {
	account.Tx
	// Lock serialises transactions naming the same subject.
	Lock(ctx context.Context, subject string) error
	InsertCase(ctx context.Context, c Case) error
	// UpdateCase is read-modify-write of a case under a lock; the id,
	// account, kind and creation time never change, nor the reports.
	UpdateCase(ctx context.Context, id string, fn func(old Case) (Case, error)) (Case, error)
	// CaseByID reads a case with its reports.
	CaseByID(ctx context.Context, id string) (Case, error)
	// OpenCaseOf finds the account's open case of kind.
	OpenCaseOf(ctx context.Context, accountID, kind string) (Case, error)
	// LatestCaseOf finds the account's newest case of kind, with its reports.
	LatestCaseOf(ctx context.Context, accountID, kind string) (Case, error)
	// ReportByAccess finds a report by the hash of its access token,
	// whatever its expiry.
	ReportByAccess(ctx context.Context, accessHash string) (Report, error)
	InsertCaseReport(ctx context.Context, r Report) error
	// Cases lists cases (without their reports), newest first.
	Cases(ctx context.Context, f Filter) ([]Case, error)
	// ResolveCaseAlerts resolves the case's open alerts with resolution
	// and note, by actor at now; it returns how many it resolved.
	ResolveCaseAlerts(ctx context.Context, caseID, resolution, note, actor string, now time.Time) (int, error)
	// CountCases counts cases with status ("" for all).
	CountCases(ctx context.Context, status string) (int, error)

	// What a snapshot reads.
	LoginEvents(ctx context.Context, accountID string, limit int, outcomes ...string) ([]login.Event, error)
	DevicesOf(ctx context.Context, accountID string) ([]session.Device, error)
	SessionsOf(ctx context.Context, accountID string, now time.Time) ([]session.Session, error)
	Withdrawals(ctx context.Context, accountID, status string, limit int) ([]withdrawal.Withdrawal, error)
}

// Errors of the service; the API and the pages map them.
var (
	ErrNoCase = errors.New("no such case")
	// ErrResolved: the case was resolved already.
	ErrResolved = errors.New("case already resolved")
	// ErrBadResolution: not one of the case kind's resolutions (ResolutionsOf).
	ErrBadResolution = errors.New("unknown resolution")
	// ErrNoteMissing, ErrNoteTooLong: the note to the user is required,
	// at most MaxNote characters (the internal note too).
	ErrNoteMissing = errors.New("a note to the user is required")
	ErrNoteTooLong = errors.New("note too long")
	// ErrStatementMissing, ErrStatementTooLong, ErrStatementNotText: the
	// user's words are required, at most MaxStatement characters of text.
	ErrStatementMissing = errors.New("say what happened")
	ErrStatementTooLong = errors.New("statement too long")
	ErrStatementNotText = errors.New("statement is not text")
	// ErrInvalidToken: a freeze token, grant or access token that is
	// unknown, spent or expired.
	ErrInvalidToken = errors.New("invalid, used or expired token")
	// ErrNotUser: only the platform's users report (not staff accounts).
	ErrNotUser = errors.New("not a user account")
)

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// ValidResolution tells whether r is a resolution of a case of kind.
func ValidResolution(kind, r string) bool {
	return slices.Contains(ResolutionsOf(kind), r)
}
