// Package server assembles Warden from its parts — configuration, store,
// keys, outbox worker, audit checkpoints, API and pages — and runs it until
// asked to stop, then stops it without losing work in flight.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/geoip"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/passkey"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/web"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Server is one running Warden node.
type Server struct {
	cfg    config.Config
	log    *slog.Logger
	store  *store.Store
	keys   *keyring.Keyring
	worker *outbox.Worker
	api    *httpapi.API
	http   *http.Server
	ln     net.Listener
	// DevAdminKey is the admin key made for `serve --dev`, printed at start.
	DevAdminKey string
	// DevStaff is the demo console login made for `serve --dev`, printed at start.
	DevStaff DevStaffLogin

	hasher        *password.Hasher
	sessionCache  *session.Cache
	lastPrune     time.Time // touched by the checkpoint loop only
	verifications *verification.Service
	withdrawals   *withdrawal.Service
	monitoring    *monitor.Service
	closers       []func() error // closed after the store, at the end of Run
}

// New opens everything the server needs and binds its listening socket, but
// serves nothing until Run.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.CheckServe(); err != nil {
		return nil, err
	}
	if cfg.Dev && len(cfg.SecretKey) == 0 {
		key, err := DevSecretKey(cfg)
		if err != nil {
			return nil, err
		}
		cfg.SecretKey = key
	}
	keys, err := keyring.New(cfg.SecretKey, cfg.OldSecretKeys...)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.WithKeyring(keys))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: st, keys: keys}
	if err := s.prepareSchema(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := s.assemble(ctx); err != nil {
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	return s, nil
}

// prepareSchema migrates in dev; elsewhere migrations are an explicit step
// (`warden migrate`), and a node refuses to run on a schema it does not know.
func (s *Server) prepareSchema(ctx context.Context) error {
	if s.cfg.Dev {
		return s.store.Migrate(ctx)
	}
	applied, newest, err := s.store.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if applied < newest {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `warden migrate` first", applied, newest)
	}
	return nil
}

func (s *Server) assemble(ctx context.Context) error {
	cfg := s.cfg
	mailer, err := notify.NewMailer(cfg.BaseURL, cfg.PlatformName)
	if err != nil {
		return err
	}
	var email outbox.Deliverer
	if cfg.SMTPURL != "" {
		smtpCfg, err := notify.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return err
		}
		if email, err = notify.NewSMTPDeliverer(smtpCfg, cfg.MailFrom, notify.WithTimeout(cfg.OutboxTimeout)); err != nil {
			return err
		}
	} else {
		email = notify.DevMailboxDeliverer{Store: s.store, From: cfg.MailFrom, Now: time.Now}
	}
	metrics := httpapi.NewMetrics(s.outboxDepth)
	s.worker = &outbox.Worker{
		Queue: s.store,
		Deliverers: map[string]outbox.Deliverer{
			outbox.KindEmail: email,
			outbox.KindWebhook: notify.WebhookDeliverer{
				Secrets: s.store, Client: &http.Client{Timeout: cfg.OutboxTimeout}, Now: time.Now,
			},
		},
		Policy: outbox.Policy{
			MaxAttempts: cfg.OutboxMaxAttempts, BackoffBase: cfg.OutboxBackoffBase, BackoffMax: cfg.OutboxBackoffMax,
			Timeout: cfg.OutboxTimeout, PollInterval: cfg.OutboxPollInterval, Concurrency: cfg.OutboxConcurrency,
		},
		Log:     s.log,
		Observe: metrics.ObserveDelivery,
	}
	adminKey := cfg.AdminKey
	if cfg.Dev && adminKey == "" {
		if s.DevAdminKey, err = s.devAdminKey(ctx); err != nil {
			return err
		}
	}
	s.hasher, err = password.NewHasher(password.Params{
		MemoryKiB: uint32(cfg.PasswordMemoryKiB), Iterations: uint32(cfg.PasswordIterations),
		Parallelism: uint8(cfg.PasswordParallelism), SaltLen: 16, KeyLen: 32,
	}, password.Options{Queue: cfg.PasswordHashQueue, MaxWait: cfg.PasswordHashMaxWait})
	if err != nil {
		return err
	}
	s.sessionCache = session.NewCache(cfg.SessionCacheTTL, 100_000)
	metrics.WatchSessionCache(s.sessionCache.Enabled)
	sessions := &session.Service{
		Transact: func(ctx context.Context, fn func(session.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Lookup: s.store,
		Policy: session.Policy{IdleTimeout: cfg.SessionIdleTimeout, Lifetime: cfg.SessionLifetime},
		Now:    time.Now,
		Cache:  s.sessionCache,
	}
	accounts := &account.Service{
		Transact: func(ctx context.Context, fn func(account.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(account.Tx) error) error {
			return s.store.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Hasher:  s.hasher,
		Mailer:  mailer,
		BaseURL: cfg.BaseURL,
		Policy: account.Policy{
			VerifyEmailTTL: cfg.EmailVerificationTTL, PasswordResetTTL: cfg.PasswordResetTTL, FreezeLinkTTL: cfg.FreezeLinkTTL,
		},
		Now: time.Now,
		Committed: func(revoked []string) {
			s.worker.Wake()
			sessions.Forget(revoked)
		},
	}
	// Passkeys need a host name: with an IP address in WARDEN_BASE_URL they
	// are off, and the authenticator app and recovery codes still work.
	var relyingParty mfa.RelyingParty
	if rp, err := passkey.New(cfg.BaseURL, cfg.PlatformName); err != nil {
		s.log.Warn("passkeys are off: WARDEN_BASE_URL needs a host name, not an IP address", "base_url", cfg.BaseURL, "error", err)
	} else {
		relyingParty = rp
	}
	// Recovery codes are hashed under the primary key; those made before a
	// key rotation are still found under the older keys.
	var recoveryKeys [][]byte
	for _, id := range append([]string{s.keys.PrimaryID()}, keyIDs(cfg.OldSecretKeys)...) {
		k, err := s.keys.Derive(id, "recovery codes")
		if err != nil {
			return err
		}
		recoveryKeys = append(recoveryKeys, k)
	}
	factors := &mfa.Service{
		Transact: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return s.store.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Keys: s.keys, RecoveryKeys: recoveryKeys, Passkeys: relyingParty,
		Issuer: cfg.PlatformName,
		Policy: mfa.Policy{ChallengeTTL: cfg.MFAChallengeTTL, MaxFailures: 5, StepUpWindow: cfg.StepUpWindow},
		Now:    time.Now,
	}
	verifications := &verification.Service{
		Transact: func(ctx context.Context, fn func(verification.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(verification.Tx) error) error {
			return s.store.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Keys: s.keys, Now: time.Now,
		Policy: verification.Policy{
			Tiers: cfg.VerificationTiers, AdultAge: cfg.KYCAdultAge, Limits: document.DefaultLimits(),
			Retention: cfg.KYCRetention, ResetWait: cfg.MFAResetWait, ResetReminder: cfg.MFAResetReminder,
		},
		// The store's transaction is both packages' Tx.
		Factors: func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) (account.Account, error) {
			return factors.RemoveAllFactors(ctx, tx.(mfa.Tx), a.ID, now)
		},
	}
	s.verifications = verifications
	withdrawals := &withdrawal.Service{
		Transact: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return s.store.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, MFA: factors, Assets: catalog(cfg), Tiers: cfg.VerificationTiers,
		Currency: money.Currency{Code: cfg.ReferenceCurrency, Decimals: cfg.ReferenceDecimals},
		Policy: withdrawal.Policy{
			AddressHold: cfg.AddressHold, ConfirmationTTL: cfg.WithdrawalConfirmationTTL,
			CooldownPassword: cfg.CooldownPassword, CooldownMFA: cfg.CooldownMFA,
			CooldownNewDevice: cfg.CooldownNewDevice, CooldownUnfreeze: cfg.CooldownUnfreeze,
			OneInReview:         cfg.WithdrawalOneInReview,
			RequireSecondFactor: cfg.WithdrawalRequireMFA, RequireEmail: cfg.WithdrawalRequireEmail,
			PriceMaxAge: cfg.PriceMaxAge, MaxMFAFailures: 5,
		},
		Now: time.Now,
	}
	s.withdrawals = withdrawals
	monitoring := &monitor.Service{
		Transact: func(ctx context.Context, fn func(monitor.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(monitor.Tx) error) error {
			return s.store.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Actor: ruleActor{accounts: accounts, withdrawals: withdrawals},
		Currency:    money.Currency{Code: cfg.ReferenceCurrency, Decimals: cfg.ReferenceDecimals},
		SyncTimeout: cfg.MonitorSyncTimeout, Now: time.Now,
	}
	s.monitoring = monitoring
	// Reports of compromised accounts: a report freezes the account and
	// opens a case for staff with a snapshot of the account.
	reports := &cases.Service{
		Transact: func(ctx context.Context, fn func(cases.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(cases.Tx) error) error {
			return s.store.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Assets: withdrawals.Assets, Currency: withdrawals.Currency,
		Policy: cases.DefaultPolicy(), Now: time.Now,
	}
	if err := s.loadRulesFile(ctx, cfg.RulesFile); err != nil {
		return err
	}
	// Every recorded action of a user is an event for the rules; a
	// withdrawal request is evaluated before its answer (the review hook),
	// so its event is stored as evaluated.
	accounts.Observe = func(ctx context.Context, tx account.Tx, a account.Account, action string, now time.Time, data map[string]any) error {
		return monitor.ObserveAction(ctx, tx.(monitor.Tx), a, action, now, data)
	}
	sessions.Observe = func(ctx context.Context, tx session.Tx, a account.Account, action string, now time.Time, data map[string]any) error {
		return monitor.ObserveAction(ctx, tx.(monitor.Tx), a, action, now, data)
	}
	withdrawals.Review = func(ctx context.Context, tx withdrawal.Tx, w withdrawal.Withdrawal) (bool, []string, error) {
		asset, _, _ := withdrawals.Assets.Find(w.Asset, w.Network)
		e, err := withdrawalEvent(ctx, tx, w, monitoring.Currency, asset.Decimals)
		if err != nil {
			return true, nil, err
		}
		return monitoring.ReviewWithdrawal(ctx, tx.(monitor.Tx), e)
	}
	// An approved verification lifts the restrictions waiting for one.
	verifications.Approved = func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) error {
		return withdrawal.LiftOnVerification(ctx, tx.(withdrawal.Tx), accounts, a, now)
	}
	verifications.AwaitsVerification = func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) (bool, error) {
		if len(a.Restrictions) == 0 {
			return false, nil // the account row says when there is any restriction to read
		}
		return withdrawal.AwaitsVerification(ctx, tx.(withdrawal.Tx), a.ID, now)
	}
	providers := map[string]verification.Provider{}
	for name, secret := range cfg.KYCProviders {
		providers[name] = verification.HMACProvider{ID: name, Secret: secret, Tolerance: cfg.KYCProviderTolerance}
	}
	// One limiter for the API, the pages and the login flow: it remembers
	// empty buckets, which is only worth it when shared.
	limiter := &ratelimit.Limiter{Store: s.store, Now: time.Now}
	logins, err := s.loginService(cfg, accounts, sessions, factors, limiter)
	if err != nil {
		return err
	}
	// The demo login's password is kept beside the SQLite file; a dev
	// server on PostgreSQL has no such folder and gets none.
	if cfg.Dev && strings.HasPrefix(cfg.DatabaseURL, "sqlite://") {
		if s.DevStaff, err = s.devStaff(ctx, accounts); err != nil {
			return err
		}
	}
	var mailbox web.Mailbox
	if cfg.Dev {
		mailbox = s.store
	}
	pages, err := web.New(web.Config{
		PlatformName: cfg.PlatformName, Dev: cfg.Dev, Mailbox: mailbox, Now: time.Now, Logger: s.log,
		Accounts: accounts, Sessions: sessions, MFA: factors, Login: logins, Audit: s.store, BaseURL: cfg.BaseURL,
		Verification: verifications, Currency: money.Currency{Code: cfg.ReferenceCurrency, Decimals: cfg.ReferenceDecimals},
		Withdrawals: withdrawals,
		Monitoring:  monitoring,
		Cases:       reports,
		RequestInfo: httpapi.RequestInfo, SupportURL: cfg.SupportURL,
		// The login pages (users' and the console's) count in the same
		// buckets as POST /v1/sessions, and step-ups as the API's. s.api is
		// built below, before any request is served.
		LoginLimit: func(r *http.Request) (time.Duration, error) { return s.api.LoginLimit(r) },
	})
	if err != nil {
		return err
	}
	s.api = httpapi.New(httpapi.Deps{
		Store: s.store, Keys: s.keys, Mailer: mailer, Outbox: s.worker,
		BootstrapAdminKey: adminKey, TrustedProxies: cfg.TrustedProxies,
		Log: s.log, Metrics: metrics, Now: time.Now, Pages: pages,
		Accounts: accounts, Sessions: sessions, MFA: factors, Login: logins, BaseURL: cfg.BaseURL,
		Verification: verifications, Providers: providers, Withdrawals: withdrawals, Monitoring: monitoring,
		Cases:    reports,
		Currency: money.Currency{Code: cfg.ReferenceCurrency, Decimals: cfg.ReferenceDecimals},
		Limiter:  limiter,
		Limits: httpapi.RateLimits{
			LoginPerIP: cfg.RateLoginPerIP, RegisterPerIP: cfg.RateRegisterPerIP,
			ResetPerIP: cfg.RateResetPerIP, ResetPerAccount: cfg.RateResetPerAccount,
		},
	})
	s.http = &http.Server{
		Handler:           s.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// outboxDepth feeds the metrics; a scrape must not hang on a slow database.
func (s *Server) outboxDepth() (pending, dead float64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p, d, err := s.store.OutboxDepth(ctx)
	if err != nil {
		s.log.Warn("outbox depth for metrics", "error", err)
		return -1, -1
	}
	return float64(p), float64(d)
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Store gives tests and commands the server's store.
func (s *Server) Store() *store.Store { return s.store }

// PasswordStats counts the password hashes this node computed, for tests
// that check how many password checks an attack got to run.
func (s *Server) PasswordStats() password.Stats { return s.hasher.Stats() }

// Run serves until ctx ends, then shuts down gracefully: it stops accepting
// connections, lets requests in flight finish, lets the outbox worker finish
// and record the deliveries it started, seals a last audit checkpoint and
// closes the database.
func (s *Server) Run(ctx context.Context) error {
	defer func() {
		for _, c := range s.closers {
			_ = c()
		}
	}()
	defer s.store.Close()
	workCtx, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = s.worker.Run(workCtx) }()
	go func() { defer wg.Done(); s.checkpointLoop(workCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.evaluationLoop(workCtx) }()
	go func() {
		defer wg.Done()
		s.store.ListenRevokedSessions(workCtx, s.log, func(h []string) { s.sessionCache.Evict(h...) }, s.sessionCache.SetEnabled)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(s.ln) }()
	s.log.Info("warden serving", "addr", s.Addr(), "base_url", s.cfg.BaseURL, "dev", s.cfg.Dev, "database", s.store.Dialect())

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	s.log.Info("warden stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTPShutdownTimeout)
	defer cancel()
	if shutErr := s.http.Shutdown(shutdownCtx); shutErr != nil {
		s.log.Warn("http shutdown", "error", shutErr)
	}
	stopWork()
	wg.Wait()
	s.sealCheckpoints(context.Background())
	s.log.Info("warden stopped")
	return err
}

func (s *Server) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.AuditCheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sealCheckpoints(ctx)
			s.pruneRateBuckets(ctx)
			s.duties(ctx)
		}
	}
}

// pruneRateBuckets deletes rate-limit buckets untouched for longer than the
// longest limit's period (by then they are full again and say nothing) and
// long-expired second-factor challenges. It runs at most every ten minutes,
// on the checkpoint tick.
func (s *Server) pruneRateBuckets(ctx context.Context) {
	if time.Since(s.lastPrune) < 10*time.Minute {
		return
	}
	s.lastPrune = time.Now()
	longest := time.Duration(0)
	for _, l := range []ratelimit.Limit{s.cfg.RateLoginPerIP, s.cfg.RateLoginFailuresPerIP, s.cfg.RateRegisterPerIP, s.cfg.RateResetPerIP, s.cfg.RateResetPerAccount} {
		longest = max(longest, l.Per)
	}
	if n, err := s.store.PruneRateBuckets(ctx, time.Now().Add(-longest)); err != nil {
		s.log.Warn("prune rate-limit buckets", "error", err)
	} else if n > 0 {
		s.log.Debug("pruned rate-limit buckets", "count", n)
	}
	// Lockout lanes left alone for a day start afresh anyway (ForgetAfter);
	// pruning them keeps sprays of made-up emails from piling up rows.
	if n, err := s.store.PruneLockoutLanes(ctx, time.Now().Add(-24*time.Hour)); err != nil {
		s.log.Warn("prune lockout lanes", "error", err)
	} else if n > 0 {
		s.log.Debug("pruned lockout lanes", "count", n)
	}
	// Challenges are kept a day past expiry: long enough to explain a
	// "challenge expired" to support, short enough not to pile up.
	if n, err := s.store.PruneChallenges(ctx, time.Now().Add(-24*time.Hour)); err != nil {
		s.log.Warn("prune expired challenges", "error", err)
	} else if n > 0 {
		s.log.Debug("pruned expired challenges", "count", n)
	}
}

// duties runs what happens on a clock: the reminders and the end of
// approved 2FA resets, the purge of identity documents past their
// retention, unconfirmed withdrawals expiring and restrictions ending.
// Every node runs them; each step is one transaction that re-reads (or
// locks) its row, so two nodes doing the same one change it once.
func (s *Server) duties(ctx context.Context) {
	if n, err := s.withdrawals.ExpireDue(ctx); err != nil {
		s.log.Warn("expire withdrawals", "error", err)
	} else if n > 0 {
		s.log.Info("unconfirmed withdrawals expired", "count", n)
	}
	if n, err := s.withdrawals.ExpireRestrictions(ctx); err != nil {
		s.log.Warn("end restrictions", "error", err)
	} else if n > 0 {
		s.log.Info("restrictions ended", "count", n)
	}
	if n, err := s.verifications.RunResets(ctx); err != nil {
		s.log.Warn("run 2FA resets", "error", err)
	} else if n > 0 {
		s.log.Info("2FA resets took effect", "count", n)
	}
	if n, err := s.verifications.PurgeDue(ctx); err != nil {
		s.log.Warn("purge identity documents", "error", err)
	} else if n > 0 {
		s.log.Info("purged identity documents past retention", "count", n)
	}
}

// evaluationLoop runs the monitoring rules over events as they arrive: every
// half second, as many batches as are waiting.
func (s *Server) evaluationLoop(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for ctx.Err() == nil {
				n, err := s.monitoring.EvaluatePending(ctx, 500)
				if err != nil {
					s.log.Warn("evaluate events", "error", err)
					break
				}
				if n < 500 {
					break
				}
			}
		}
	}
}

// loadRulesFile makes WARDEN_RULES_FILE the rules in force when it differs
// from them; a file that does not check stops start-up.
func (s *Server) loadRulesFile(ctx context.Context, path string) error {
	if path == "" {
		return nil
	}
	// A file that cannot be read or holds a bad rule is a configuration
	// error like any other: start-up stops and says which key.
	data, err := os.ReadFile(path)
	if err != nil {
		return &config.Error{Key: "WARDEN_RULES_FILE", Problem: err.Error()}
	}
	current, err := s.monitoring.RuleSet(ctx)
	if err != nil {
		return err
	}
	if current.Source == string(data) {
		return nil
	}
	if _, err := s.monitoring.PutRules(ctx, data, account.Meta{Actor: "system:rules_file"}); err != nil {
		return &config.Error{Key: "WARDEN_RULES_FILE", Problem: path + ": " + err.Error()}
	}
	s.log.Info("monitoring rules loaded from file", "path", path)
	return nil
}

// ruleActor carries out monitoring rules' actions through the services that
// own them.
type ruleActor struct {
	accounts    *account.Service
	withdrawals *withdrawal.Service
}

func (r ruleActor) Restrict(ctx context.Context, tx monitor.Tx, accountID, reason string, now time.Time) ([]string, error) {
	// One pause at a time: a rule firing again while its pause holds adds
	// nothing (and no second email).
	rs, err := tx.(withdrawal.Tx).RestrictionsOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, x := range rs {
		if x.Kind == "withdrawals" && x.Source == "system:monitor" && x.ActiveAt(now) {
			return nil, nil
		}
	}
	_, stale, err := r.withdrawals.RestrictIn(ctx, tx.(withdrawal.Tx), accountID,
		withdrawal.NewRestriction{Kind: "withdrawals", Reason: reason, LiftOn: "verification"}, account.Meta{Actor: "system:monitor"}, now)
	return stale, err
}

func (r ruleActor) Freeze(ctx context.Context, tx monitor.Tx, accountID, reason string, now time.Time) ([]string, error) {
	return r.accounts.FreezeIn(ctx, tx, accountID, reason, account.Meta{Actor: "system:monitor"}, now)
}

// withdrawalEvent is a withdrawal request as the rules see it: its value in
// whole units of the reference currency, and how old its address is.
func withdrawalEvent(ctx context.Context, tx withdrawal.Tx, w withdrawal.Withdrawal, c money.Currency, decimals int) (monitor.Event, error) {
	attrs := map[string]any{"network": w.Network, "address": w.Address}
	if w.AddressID != "" {
		a, err := tx.AddressByID(ctx, w.AccountID, w.AddressID)
		if err != nil {
			return monitor.Event{}, err
		}
		attrs["address_age_hours"] = w.CreatedAt.Sub(a.CreatedAt).Hours()
	} else {
		attrs["address_age_hours"] = 0.0 // typed in: never seen before
	}
	amount, _ := new(big.Float).Quo(new(big.Float).SetInt(w.Amount), big.NewFloat(math.Pow10(decimals))).Float64()
	return monitor.Event{ID: w.ID, UserID: w.AccountID, Type: "withdrawal_requested", Asset: w.Asset, Amount: amount,
		Value: float64(w.ReferenceValue) / math.Pow10(c.Decimals), OccurredAt: w.CreatedAt, Attributes: attrs}, nil
}

// catalog turns the configured networks and assets into the payout catalog.
func catalog(cfg config.Config) withdrawal.Catalog {
	var c withdrawal.Catalog
	for _, a := range cfg.Assets {
		asset := withdrawal.Asset{Code: a.Code, Decimals: a.Decimals}
		for _, n := range a.Networks {
			asset.Networks = append(asset.Networks, cfg.Networks[n])
		}
		c = append(c, asset)
	}
	return c
}

// sealCheckpoints writes checkpoints until every grown chain is sealed.
func (s *Server) sealCheckpoints(ctx context.Context) {
	const batch = 10000
	for ctx.Err() == nil {
		var c audit.Checkpoint
		var sealed bool
		err := s.store.Write(ctx, func(tx *store.Tx) error {
			var err error
			c, sealed, err = audit.Seal(ctx, tx, s.keys, time.Now(), batch)
			return err
		})
		if err != nil {
			s.log.Error("audit checkpoint", "error", err)
			return
		}
		if !sealed {
			return
		}
		// Logged so that the MAC can be anchored outside the database too.
		s.log.Info("audit checkpoint", "seq", c.Seq, "chains", len(c.Heads), "mac", c.MAC)
		if len(c.Heads) < batch {
			return
		}
	}
}

func keyIDs(keys [][]byte) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = keyring.KeyID(k)
	}
	return ids
}

// DataDir is where `serve --dev` keeps its database and generated secrets.
func DataDir(cfg config.Config) string {
	if path, ok := strings.CutPrefix(cfg.DatabaseURL, "sqlite://"); ok {
		return filepath.Dir(path)
	}
	return "warden-data"
}

// DevSecretKey reads the dev encryption key from the data folder, making it on first use.
func DevSecretKey(cfg config.Config) ([]byte, error) {
	dir := DataDir(cfg)
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != keyring.KeySize {
			return nil, fmt.Errorf("%s is not base64 of %d bytes; delete it to start afresh", path, keyring.KeySize)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read dev secret key: %w", err)
	}
	key := make([]byte, keyring.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate dev secret key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write dev secret key: %w", err)
	}
	return key, nil
}

// loginService assembles the login flow: GeoIP (off when WARDEN_GEOIP_DB is
// unset, said once at start; a bad file stops start-up), risk weights,
// lockout schedule.
func (s *Server) loginService(cfg config.Config, accounts *account.Service, sessions *session.Service, factors *mfa.Service, limiter *ratelimit.Limiter) (*login.Service, error) {
	var places login.Locator
	if cfg.GeoIPDB == "" {
		s.log.Info("GeoIP is off: set WARDEN_GEOIP_DB to a .mmdb file for the new-country and impossible-travel signals")
	} else {
		r, err := geoip.Open(cfg.GeoIPDB, cfg.GeoIPASNDB)
		if err != nil {
			return nil, &config.Error{Key: "WARDEN_GEOIP_DB", Problem: err.Error()}
		}
		s.closers = append(s.closers, r.Close)
		places = r
	}
	unknownKey, err := s.keys.Derive(s.keys.PrimaryID(), "unknown login emails")
	if err != nil {
		return nil, err
	}
	return &login.Service{
		Transact: func(ctx context.Context, fn func(login.Tx) error) error {
			return s.store.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(login.Tx) error) error {
			return s.store.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Sessions: sessions, MFA: factors, Places: places, UnknownKey: unknownKey,
		IPFailures: limiter, IPFailureLimit: cfg.RateLoginFailuresPerIP,
		Policy: login.Policy{
			Risk:          cfg.Risk(),
			Lockout:       lockout.Policy{MaxFailures: cfg.LockoutMaxFailures, BaseDelay: cfg.LockoutBaseDelay, MaxDelay: cfg.LockoutMaxDelay, ForgetAfter: 24 * time.Hour},
			FailureWindow: cfg.LoginFailureWindow, EmailWithMFA: cfg.NewDeviceEmailWithMFA, HistorySize: 50,
			DeviceConfirmationTTL: cfg.DeviceConfirmationTTL,
		},
		Now: time.Now,
	}, nil
}

// DevStaffLogin is the console login `serve --dev` prints. OneTimePassword
// is empty once the demo admin has replaced it with their own.
type DevStaffLogin struct {
	Email           string
	OneTimePassword string
}

// devStaffEmail is at a domain reserved for examples (RFC 2606).
const devStaffEmail = "staff@example.com"

// devStaff gives `serve --dev` a console login with the admin role. It goes
// through the real flow: a one-time password, kept in the data folder until
// the first login replaces it.
func (s *Server) devStaff(ctx context.Context, accounts *account.Service) (DevStaffLogin, error) {
	path := filepath.Join(DataDir(s.cfg), "staff-password")
	login := DevStaffLogin{Email: devStaffEmail}
	_, key, err := account.NormalizeEmail(devStaffEmail)
	if err != nil {
		return login, err
	}
	var existing account.Account
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		existing, err = tx.AccountByEmail(ctx, account.RealmStaff, key)
		return err
	})
	switch {
	case err == nil:
		if existing.MustChangePassword {
			b, _ := os.ReadFile(path)
			login.OneTimePassword = strings.TrimSpace(string(b))
		}
		return login, nil
	case !errors.Is(err, store.ErrNotFound):
		return login, fmt.Errorf("look up the demo staff login: %w", err)
	}
	_, login.OneTimePassword, err = accounts.CreateStaff(ctx, devStaffEmail, staff.RoleAdmin, account.Meta{Actor: "system"})
	if err != nil {
		return login, fmt.Errorf("create the demo staff login: %w", err)
	}
	if err := os.WriteFile(path, []byte(login.OneTimePassword+"\n"), 0o600); err != nil {
		return login, fmt.Errorf("write the demo staff password: %w", err)
	}
	return login, nil
}

// devAdminKey gives `serve --dev` an admin key with every scope, kept in the
// data folder so that it stays the same across restarts.
func (s *Server) devAdminKey(ctx context.Context) (string, error) {
	path := filepath.Join(DataDir(s.cfg), "admin.key")
	if b, err := os.ReadFile(path); err == nil {
		plain := strings.TrimSpace(string(b))
		if _, err := s.store.AdminKeyByHash(ctx, adminkey.Hash(plain)); err == nil {
			return plain, nil
		}
	}
	plain, key, err := adminkey.New("dev", adminkey.Scopes, time.Now())
	if err != nil {
		return "", err
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAdminKey(ctx, key, adminkey.Hash(plain)); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, time.Now(), audit.Entry{Actor: "system", Action: "admin_key.created",
			Data: map[string]any{"key_id": key.ID, "name": key.Name, "scopes": key.Scopes, "by": "serve --dev"}})
		return err
	})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(plain+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write dev admin key: %w", err)
	}
	return plain, nil
}
