// Package loadtest holds the tools behind the load benchmarks of
// docs/BENCHMARKS.md, which need a real server under a real load generator
// and therefore live outside `go test`'s usual tests:
//
//   - seed (a command) fills a database with an admin key, accounts and
//     sessions straight through the store;
//   - bare (a command) is the bare net/http reference server;
//   - argon (a command) measures bare Argon2id hashing on this machine;
//   - logintiming (a command) times unknown-email and wrong-password logins;
//   - the benchmarks in this package measure the introspection handler in
//     process (CPU and allocations per request, no network).
//
// scripts/bench-introspect.sh and scripts/bench-login.sh drive them.
package loadtest
