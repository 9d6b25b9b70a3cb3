#!/usr/bin/env bash
# Login flood against a real `warden serve --dev` with its DEFAULT settings
# (default rate limits, hash parameters, hash queue), on a fresh SQLite folder.
#
# internal/loadtest/seed writes ACCOUNTS verified accounts first (hashes at the
# default parameters). Then internal/loadtest/flood runs CLIENTS concurrent
# clients from 127.0.0.1 posting logins to POST /v1/sessions for DURATION — a
# third wrong passwords for seeded accounts, a third unknown emails, a third
# right passwords — while it samples the server's VmRSS every 100 ms and, every
# second, times one login with the right password of another seeded account
# (never used by the flood) on a new connection from 127.0.0.2: the per-IP
# limit is per address, so that login is "outside the flood".
#
# Targets (issue 3): VmRSS stays under 400 MiB; every flood request is answered
# 201, 401, 429 or 503 (anything else, or a transport error, fails); every
# outside login answers 201 within 2 s.
#
# Usage: scripts/bench-flood.sh            (ROUNDS runs, each on a fresh folder)
# Env:   CLIENTS (500), DURATION (30s), ACCOUNTS (300), ROUNDS (1),
#        WARDEN_BIN (default: go build ./cmd/warden from this tree), SERVER_ENV (extra
#        env for the server, e.g. "GOMEMLIMIT=off", for diagnosis only)
# Needs: go, python3, curl. Only loopback traffic (127.0.0.1 and 127.0.0.2); bounded.
set -euo pipefail

clients=${CLIENTS:-500}
duration=${DURATION:-30s}
accounts=${ACCOUNTS:-300}
rounds=${ROUNDS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)

tmp=$(mktemp -d /tmp/bench-flood.XXXXXX)
spid=""
cleanup() {
	if [[ -n $spid ]]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building into $tmp/bin"
(cd "$root" && for c in seed flood; do go build -o "$tmp/bin/$c" ./internal/loadtest/$c; done &&
	if [[ -n ${WARDEN_BIN:-} ]]; then cp "$WARDEN_BIN" "$tmp/bin/warden"; else go build -o "$tmp/bin/warden" ./cmd/warden; fi)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# The outside client needs 127.0.0.2 to be a local address (it is on Linux's lo).
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2", 0)); s.close()' ||
	{ echo "127.0.0.2 is not a local address here" >&2; exit 1; }

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $clients clients, $duration, $accounts accounts, defaults"
status=0
for r in $(seq 1 "$rounds"); do
	dir=$(mktemp -d "$tmp/db.XXXX")
	port=$(free_port)
	"$tmp/bin/seed" -db "sqlite://$dir/warden-data/warden.db" -n "$accounts" -out "$dir" | sed 's/^/   /'
	# Defaults: no WARDEN_RATE_*, WARDEN_PASSWORD_*, GOGC or GOMEMLIMIT. The log
	# (one access-log line per request) goes to a file.
	# shellcheck disable=SC2086
	(cd "$dir" && exec env -u GOGC -u GOMEMLIMIT WARDEN_ADDR=127.0.0.1:$port ${SERVER_ENV:-} \
		"$tmp/bin/warden" serve --dev >"$dir/warden.log" 2>&1) &
	spid=$!
	for _ in $(seq 1 500); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
		kill -0 "$spid" 2>/dev/null || { tail -20 "$dir/warden.log" >&2; exit 1; }
		sleep 0.02
	done
	echo "   round $r: idle VmRSS $(awk '$1 == "VmRSS:" { printf "%.1f MiB", $2 / 1024 }' "/proc/$spid/status")"
	"$tmp/bin/flood" -url "http://127.0.0.1:$port" -dir "$dir" -clients "$clients" -duration "$duration" \
		-pid "$spid" | sed 's/^/   /' || status=1
	kill -0 "$spid" 2>/dev/null || { echo "   the server died; log:"; tail -20 "$dir/warden.log"; status=1; }
	echo "   log lines: $(wc -l <"$dir/warden.log"), of which level WARN/ERROR: $(grep -c 'level=WARN\|level=ERROR' "$dir/warden.log" || true)"
	# the WARN/ERROR lines by kind (times, ids, durations and sizes left out)
	grep 'level=ERROR\|level=WARN' "$dir/warden.log" |
		sed -E 's/(time|request_id|duration|bytes|ip|user_agent)=("[^"]*"|[^ ]*) ?//g' |
		sort | uniq -c | sort -rn | head -5 | sed 's/^/     /' || true
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	spid=""
done
exit $status
