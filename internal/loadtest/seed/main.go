// Command seed fills a Warden database with what the load benchmarks need,
// straight through the store (no HTTP, no email): a stored admin API key
// with the sessions:introspect scope, verified user accounts that share one
// password, and one live session per account.
//
// It writes into -out:
//
//	admin.key          the admin key's plaintext (one line)
//	tokens.txt         one session token per line
//	introspect.jsonl   one introspection body per line: {"token":"wss_…"}
//	logins.jsonl       one login body per line: {"email":…,"password":…}
//	unknown.jsonl      login bodies for emails that have no account
//
// It is for benchmarks only (scripts/bench-introspect.sh, scripts/bench-login.sh).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// Password is the password of every seeded account.
const Password = "loadtest correct horse battery"

func main() {
	dbURL := flag.String("db", "", "WARDEN_DATABASE_URL (sqlite://… or postgres://…)")
	n := flag.Int("n", 1000, "accounts (and sessions) to create")
	out := flag.String("out", ".", "folder for admin.key, tokens.txt and the body files")
	memory := flag.Uint("memory", 19456, "Argon2id memory (KiB) of the stored password hash; match WARDEN_PASSWORD_MEMORY_KIB")
	iterations := flag.Uint("iterations", 2, "Argon2id iterations; match WARDEN_PASSWORD_ITERATIONS")
	migrate := flag.Bool("migrate", true, "apply the migrations first")
	flag.Parse()
	if err := run(*dbURL, *n, *out, uint32(*memory), uint32(*iterations), *migrate); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(dbURL string, n int, out string, memory, iterations uint32, migrate bool) error {
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	// One real hash, shared by every account: what a login verifies costs the
	// same as for any account, and seeding stays fast.
	params := password.DefaultParams()
	params.MemoryKiB, params.Iterations = memory, iterations
	hasher, err := password.NewHasher(params, password.Options{})
	if err != nil {
		return err
	}
	phc, err := hasher.Hash(ctx, Password)
	if err != nil {
		return err
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	plainKey, key, err := adminkey.New("loadtest", []string{"sessions:introspect"}, now)
	if err != nil {
		return err
	}
	policy := session.Policy{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour}
	run := fmt.Sprintf("%x", now.UnixNano())
	var tokens, introspect, logins, unknown []string
	const batch = 250
	for start := 0; start < n; start += batch {
		err := st.Write(ctx, func(tx *store.Tx) error {
			if start == 0 {
				if err := tx.InsertAdminKey(ctx, key, adminkey.Hash(plainKey)); err != nil {
					return err
				}
			}
			for i := start; i < min(start+batch, n); i++ {
				email, emailKey, err := account.NormalizeEmail(fmt.Sprintf("user%05d.%s@loadtest.example.com", i, run))
				if err != nil {
					return err
				}
				a := account.Account{
					ID: id.New("usr"), Realm: account.RealmUser, Email: email, EmailKey: emailKey,
					EmailVerifiedAt: now, PasswordHash: phc, CreatedAt: now,
				}
				if err := tx.InsertAccount(ctx, a); err != nil {
					return fmt.Errorf("account %d: %w", i, err)
				}
				token, s := session.New(a, session.AAL1, "", "127.0.0.1", "loadtest", now, policy)
				if err := tx.InsertSession(ctx, s); err != nil {
					return fmt.Errorf("session %d: %w", i, err)
				}
				tokens = append(tokens, token)
				introspect = append(introspect, jsonLine(map[string]string{"token": token}))
				logins = append(logins, jsonLine(map[string]string{"email": email, "password": Password}))
				unknown = append(unknown, jsonLine(map[string]string{
					"email": fmt.Sprintf("nobody%05d.%s@loadtest.example.com", i, run), "password": Password}))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, lines := range map[string][]string{
		"admin.key": {plainKey}, "tokens.txt": tokens, "introspect.jsonl": introspect,
		"logins.jsonl": logins, "unknown.jsonl": unknown,
	} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("seeded %d accounts and sessions, admin key %s, hash m=%d t=%d, into %s\n", n, key.ID, memory, iterations, out)
	return nil
}

func jsonLine(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
