// Command warden is Warden's one binary: the server and its operator commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/logging"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/server"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1 // the command ran and found a problem (e.g. a broken audit log)
	exitConfigError = 2 // the configuration is invalid; nothing ran
)

// exitError carries an exit code and a one-line message out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it with their own arguments and outputs.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "warden: "+ee.msg)
		}
		return ee.code
	}
	if _, ok := config.ErrorKey(err); ok {
		fmt.Fprintln(stderr, "warden: config: "+oneLine(err.Error()))
		return exitConfigError
	}
	fmt.Fprintln(stderr, "warden: "+oneLine(err.Error()))
	return exitFailure
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

type globalFlags struct {
	configFile string
	dev        bool
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:           "warden",
		Short:         "Account security and withdrawal protection for platforms that hold money or crypto",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "YAML configuration file (environment variables win over it)")
	root.PersistentFlags().BoolVar(&g.dev, "dev", false, "development mode: SQLite in ./warden-data, generated key, dev mailbox")
	root.AddCommand(
		newServeCommand(&g, stderr),
		newMigrateCommand(&g, stdout),
		newAdminCommand(&g, stdout),
		newAuditCommand(&g, stdout),
		newRulesCommand(&g, stdout, stderr),
		newVersionCommand(stdout),
	)
	return root
}

func loadConfig(g *globalFlags) (config.Config, error) {
	src, err := config.FromEnvironment(g.configFile)
	if err != nil {
		return config.Config{}, err
	}
	return config.Load(src, g.dev)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// tuneGarbageCollector trades memory the server has for CPU it lacks. Each
// password hash allocates Argon2id's whole matrix (19 MiB by default), so
// with Go's default GOGC=100 and a live heap of about 10 MiB (mostly zxcvbn's
// dictionaries) the collector ran every two or three logins and cost more
// than the rest of the login put together (docs/BENCHMARKS.md). A higher
// GC percent makes cycles rarer; the soft memory limit makes them frequent
// again before the heap grows large, so a login flood stays well inside a
// small container. Operators' GOGC and GOMEMLIMIT win.
func tuneGarbageCollector() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(256 << 20)
	}
}

func newServeCommand(g *globalFlags, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the user API, the admin API and the web pages on one port",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			tuneGarbageCollector()
			logOut := logging.NewBufferedWriter(stderr, 100*time.Millisecond)
			defer logOut.Close()
			log := newLogger(cfg, logOut)
			srv, err := server.New(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			// Start-up leaves garbage (zxcvbn's dictionaries are built at init,
			// a first dev start hashes a password) that the raised GC percent
			// would keep around for a long time: return it before serving.
			debug.FreeOSMemory()
			if cfg.Dev {
				fmt.Fprintf(stderr, "\n  Warden (dev) on http://%s\n  dev mailbox:  http://%s/dev/mailbox\n", srv.Addr(), srv.Addr())
				if srv.DevAdminKey != "" {
					fmt.Fprintf(stderr, "  demo admin API key (every scope): %s\n", srv.DevAdminKey)
				}
				if st := srv.DevStaff; st.OneTimePassword != "" {
					fmt.Fprintf(stderr, "  demo staff console: http://%s/console  %s  one-time password: %s\n", srv.Addr(), st.Email, st.OneTimePassword)
				} else if st.Email != "" {
					fmt.Fprintf(stderr, "  demo staff console: http://%s/console  %s  (with the password you chose)\n", srv.Addr(), st.Email)
				}
				fmt.Fprintln(stderr)
			}
			return srv.Run(cmd.Context())
		},
	}
}

func openStore(ctx context.Context, g *globalFlags) (config.Config, *store.Store, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return cfg, nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	return cfg, st, err
}

func newMigrateCommand(g *globalFlags, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded database migrations to WARDEN_DATABASE_URL and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(cmd.Context()); err != nil {
				return err
			}
			applied, _, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "database schema at version %d\n", applied)
			return nil
		},
	}
}

func newAdminCommand(g *globalFlags, stdout io.Writer) *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Administer Warden: admin API keys and staff accounts"}
	var name, scopes string
	createKey := &cobra.Command{
		Use:   "create-key",
		Short: "Create an admin API key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var list []string
			for _, s := range strings.Split(scopes, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			plain, key, err := adminkey.New(name, list, time.Now())
			if err != nil {
				return &exitError{code: exitConfigError, msg: err.Error()}
			}
			_, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.Write(ctx, func(tx *store.Tx) error {
				if err := tx.InsertAdminKey(ctx, key, adminkey.Hash(plain)); err != nil {
					return err
				}
				_, err := audit.Append(ctx, tx, time.Now(), audit.Entry{Actor: "system", Action: "admin_key.created",
					Data: map[string]any{"key_id": key.ID, "name": key.Name, "scopes": key.Scopes, "by": "warden admin create-key"}})
				return err
			})
			if err != nil {
				return fmt.Errorf("create admin key (has `warden migrate` run?): %w", err)
			}
			fmt.Fprintln(stdout, plain)
			fmt.Fprintf(cmd.ErrOrStderr(), "admin key %s (%s) with scopes %s — shown once, store it now\n", key.ID, key.Name, strings.Join(key.Scopes, ","))
			return nil
		},
	}
	createKey.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	createKey.Flags().StringVar(&scopes, "scopes", "", "comma-separated scopes: "+strings.Join(adminkey.Scopes, ","))
	_ = createKey.MarkFlagRequired("name")
	_ = createKey.MarkFlagRequired("scopes")
	admin.AddCommand(createKey, newCreateStaffCommand(g, stdout))
	return admin
}

func newCreateStaffCommand(g *globalFlags, stdout io.Writer) *cobra.Command {
	var email, role string
	cmd := &cobra.Command{
		Use:   "create-staff",
		Short: "Create a staff account for the console and print a one-time password",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if _, err := staff.Scopes(role); err != nil {
				return &exitError{code: exitConfigError, msg: err.Error()}
			}
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			hasher, err := password.NewHasher(password.Params{
				MemoryKiB: uint32(cfg.PasswordMemoryKiB), Iterations: uint32(cfg.PasswordIterations),
				Parallelism: uint8(cfg.PasswordParallelism), SaltLen: 16, KeyLen: 32,
			}, password.Options{})
			if err != nil {
				return err
			}
			accounts := &account.Service{
				Transact: func(ctx context.Context, fn func(account.Tx) error) error {
					return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
				},
				Hasher: hasher, Now: time.Now,
			}
			a, oneTime, err := accounts.CreateStaff(ctx, email, role, account.Meta{Actor: "system"})
			switch {
			case errors.Is(err, account.ErrInvalidEmail):
				return &exitError{code: exitConfigError, msg: "--email: not a valid email address"}
			case errors.Is(err, store.ErrConflict):
				return &exitError{code: exitFailure, msg: "a staff account with this email already exists"}
			case err != nil:
				return fmt.Errorf("create staff account (has `warden migrate` run?): %w", err)
			}
			fmt.Fprintln(stdout, oneTime)
			fmt.Fprintf(cmd.ErrOrStderr(), "staff account %s (%s, role %s) — one-time password above, shown once; it must be changed at the first login at /console\n", a.ID, a.Email, role)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the staff member's email (required)")
	cmd.Flags().StringVar(&role, "role", "", "support, compliance or admin (required)")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newAuditCommand(g *globalFlags, stdout io.Writer) *cobra.Command {
	auditCmd := &cobra.Command{Use: "audit", Short: "Work with the tamper-evident audit log"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole audit log; exit 0 when intact, 1 and the first broken record when not",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			secret := cfg.SecretKey
			if len(secret) == 0 && cfg.Dev {
				if secret, err = server.DevSecretKey(cfg); err != nil {
					return err
				}
			}
			if len(secret) == 0 {
				return &config.Error{Key: "WARDEN_SECRET_KEY", Problem: "required to check the audit checkpoints"}
			}
			keys, err := keyring.New(secret, cfg.OldSecretKeys...)
			if err != nil {
				return err
			}
			var rep audit.Report
			err = st.Read(ctx, func(tx *store.Tx) error {
				rep, err = audit.Verify(ctx, tx, keys)
				return err
			})
			if err != nil {
				return err
			}
			if rep.Broken != nil {
				return &exitError{code: exitFailure, msg: "audit log broken: " + rep.Broken.Error()}
			}
			fmt.Fprintf(stdout, "audit log intact: %d records in %d chains, %d checkpoints\n", rep.Records, rep.Chains, rep.Checkpoints)
			return nil
		},
	}
	auditCmd.AddCommand(verify)
	return auditCmd
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and build information",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(stdout, "warden %s\n", version)
			if info, ok := debug.ReadBuildInfo(); ok {
				fmt.Fprintf(stdout, "go %s\n", info.GoVersion)
				for _, s := range info.Settings {
					switch s.Key {
					case "vcs.revision", "vcs.time", "vcs.modified":
						fmt.Fprintf(stdout, "%s %s\n", s.Key, s.Value)
					}
				}
			}
		},
	}
}
