#!/usr/bin/env bash
# Load test of session introspection, POST /admin/v1/sessions/introspect, against a
# real `warden serve`, beside a bare net/http reference in the same run.
#
# Setup, per database: a fresh SQLite file (`warden serve --dev`) or a fresh
# PostgreSQL schema (`warden migrate`, then `warden serve`); internal/loadtest/seed
# fills it with SESSIONS verified accounts, one live session each, and a stored
# admin key with the sessions:introspect scope — the load authenticates with that
# key (looked up in admin_keys, as a platform's key is), not with WARDEN_ADMIN_KEY.
# The server runs with the default log level (info: one access-log line per
# request, to a file) and its /metrics as always.
#
# Load: wrk, THREADS threads, CONNS keep-alive connections on loopback, DURATION
# per run, each request a different session token (scripts/wrk-bodies.lua cycles
# through the SESSIONS bodies). After a warm-up run, ROUNDS rounds alternate:
#   warden      the server above
#   warden-warn the same server binary and database with WARDEN_LOG_LEVEL=warn
#               (no access-log lines), to show what the access log costs (LOGCOST=1)
#   bare        internal/loadtest/bare: decode {"token":…}, answer from a map
# Each run also reports "other": the share of the machine's CPU time used by
# processes other than the server(s), the database and wrk during that run —
# this machine is shared, and a run with much other load says little — and
# "steal": the share of CPU time the hypervisor gave to other machines.
# p50/p99 are wrk's (send to response, on the client); server_p99 is the bucket of
# warden_http_request_duration_seconds (from /metrics, before and after the run)
# that holds 99 % of the run's requests: the time inside Warden's handler chain,
# without the time a request or answer waits in socket buffers and run queues.
#
# With GEN=openloop the load comes from internal/loadtest/openloop instead of wrk:
# CONNS keep-alive connections, a constant RATE of requests per second spread
# across them, each request's latency counted from its scheduled send time (no
# coordinated omission; wrk at saturation measures its own queue). The table then
# also shows p99.9 and the generator's own lag p99 (how late it sent a request
# whose connection was free: if large, the figures measure the generator, not
# the server). "req/s" is then the
# achieved rate, and non2xx counts answers other than 2xx.
# Pinning, for both generators: GEN_CPUS and SERVER_CPUS (taskset -c lists, e.g.
# 0 and 1) put the load generator and the servers on separate cores; GEN_PROCS
# sets the generator's GOMAXPROCS (openloop only).
#
#   baseline    another warden binary on the same database, e.g. one built from an
#               older commit, to compare before/after in the same run (BASELINE_BIN)
#
# Usage: scripts/bench-introspect.sh [sqlite|postgres|both]   (default: sqlite)
# Env:   ROUNDS (3), DURATION (8s), CONNS (32), THREADS (2), SESSIONS (1000), LOGCOST (1),
#        GEN (wrk), RATE (25000), GEN_CPUS, SERVER_CPUS, GEN_PROCS (unset),
#        BASELINE_BIN (unset), WARDEN_BIN (default: go build ./cmd/warden from this tree)
#        WARDEN_TEST_POSTGRES_URL  base URL for the postgres run (a schema is made and dropped)
# Needs: go, wrk, python3; psql for postgres. Only loopback traffic; every run is bounded.
set -euo pipefail

mode=${1:-sqlite}
rounds=${ROUNDS:-3}
duration=${DURATION:-8s}
conns=${CONNS:-32}
threads=${THREADS:-2}
sessions=${SESSIONS:-1000}
gen=${GEN:-wrk}
rate=${RATE:-25000}
gen_pin=() srv_pin=()
[[ -z ${GEN_CPUS:-} ]] || gen_pin=(taskset -c "$GEN_CPUS")
[[ -z ${SERVER_CPUS:-} ]] || srv_pin=(taskset -c "$SERVER_CPUS")
logcost=${LOGCOST:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
lua=$root/scripts/wrk-bodies.lua

tmp=$(mktemp -d /tmp/bench-introspect.XXXXXX)
pids=()
pg_schema=""
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -n $pg_schema ]]; then
		psql "$WARDEN_TEST_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building (go build) into $tmp/bin"
(mkdir -p "$tmp/bin" && cd "$root" && if [[ -n ${WARDEN_BIN:-} ]]; then cp "$WARDEN_BIN" "$tmp/bin/warden"; else go build -o "$tmp/bin/warden" ./cmd/warden; fi &&
	go build -o "$tmp/bin/seed" ./internal/loadtest/seed &&
	go build -o "$tmp/bin/bare" ./internal/loadtest/bare &&
	go build -o "$tmp/bin/openloop" ./internal/loadtest/openloop/cmd/openloop)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_healthy PORT PID LOG
wait_healthy() {
	for _ in $(seq 1 500); do
		curl -fsS -o /dev/null "http://127.0.0.1:$1/healthz" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || { echo "server exited; log:" >&2; tail -20 "$3" >&2; exit 1; }
		sleep 0.02
	done
	echo "no /healthz within 10 s; log:" >&2; tail -20 "$3" >&2; exit 1
}

# busy_jiffies: the machine's busy CPU time (user+nice+system+irq+softirq; not idle, iowait, steal).
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# steal_jiffies: time the hypervisor gave this VM's CPUs to others, and all time.
steal_jiffies() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat; }
# steal_pct "S0 T0" "S1 T1": the share of all CPU time stolen between two readings.
steal_pct() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'; }
# pid_jiffies PID...: user+system CPU time of processes (all their threads).
pid_jiffies() {
	local sum=0 p v
	for p in "$@"; do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		sum=$((sum + v))
	done
	echo "$sum"
}
# db_pids: the PostgreSQL server's processes (none for SQLite, which runs inside warden).
db_pids() { if [[ $db == postgres ]]; then pgrep -u postgres -x postgres || true; fi; }

results=$tmp/results.txt
: >"$results"

# server_hist URL: the cumulative counts of the introspection route's latency
# histogram (warden_http_request_duration_seconds) as "le=count ..."; empty for bare.
server_hist() {
	[[ $1 == */admin/v1/sessions/introspect ]] || return 0
	curl -fsS "${1%/admin/v1/sessions/introspect}/metrics" |
		awk -F'[{}]' '/^warden_http_request_duration_seconds_bucket/ && /sessions\/introspect/ {
			split($2, kv, "le=\""); le = kv[2]; sub(/".*/, "", le); split($3, c, " "); printf "%s=%s ", le, c[1] }'
}

# server_p99 "BEFORE" "AFTER": the smallest histogram bound that holds 99 % of the
# requests counted in between: the server's own p99 (time in the handler chain).
server_p99() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) { split(x[i], p, "="); split(y[i], q, "="); le[i] = p[1]; d[i] = q[2] - p[2] }
		for (i = 1; i <= n; i++) if (le[i] == "+Inf") total = d[i]
		if (total == 0) { print "-"; exit }
		for (i = 1; i <= n; i++) if (d[i] >= 0.99 * total) { printf "<=%gms", le[i] * 1000; exit }
	}'
}

# run LABEL URL AUTH SERVERPIDS...: one wrk run of $duration (or $dur); prints a
# result line and keeps it in $results, except for the warm-up.
run() {
	local label=$1 url=$2 auth=$3
	shift 3
	local b0 s0 b1 s1 out w_user w_sys wrk_j mine other st0 steal h0 h1 sp99 keep=$results
	[[ $label == warm-up ]] && keep=/dev/null
	h0=$(server_hist "$url")
	st0=$(steal_jiffies)
	b0=$(busy_jiffies)
	s0=$(pid_jiffies "$@" $(db_pids))
	if [[ $gen == openloop ]]; then
		local hdr=()
		[[ -z $auth ]] || hdr=(-H "Authorization: $auth")
		out=$(env ${GEN_PROCS:+GOMAXPROCS=$GEN_PROCS} /usr/bin/time -f 'time %U %S' "${gen_pin[@]}" "$tmp/bin/openloop" \
			-url "$url" -bodies "$tmp/introspect.jsonl" "${hdr[@]}" -rate "$rate" -conns "$conns" \
			-duration "${dur:-$duration}" -warmup 1s -label "$label" 2>&1 |
			awk '$1 == "time" { print; next } $1 == "label" {
				for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
				n = split(v["status"], st, ","); bad = 0
				for (j = 1; j <= n; j++) { split(st[j], kv, ":"); if (kv[1] !~ /^2/) bad += kv[2] }
				printf "rps %s\np50_us %d\np99_us %d\np999_us %d\nlag99_us %d\nnon2xx %d\nerrors %d\n",
					v["achieved"], v["p50_ms"] * 1000, v["p99_ms"] * 1000, v["p999_ms"] * 1000, v["lag_p99_ms"] * 1000, bad, v["errors"]
				if (v["first_error"] != "-") print "first_error " v["first_error"] > "/dev/stderr"
				next } { print > "/dev/stderr" }')
	else
		out=$(WRK_BODIES=$tmp/introspect.jsonl WRK_AUTH=$auth /usr/bin/time -f 'time %U %S' "${gen_pin[@]}" \
			wrk -t"$threads" -c"$conns" -d"${dur:-$duration}" --latency -s "$lua" "$url" 2>&1)
	fi
	b1=$(busy_jiffies)
	s1=$(pid_jiffies "$@" $(db_pids))
	steal=$(steal_pct "$st0" "$(steal_jiffies)")
	h1=$(server_hist "$url")
	sp99=$(server_p99 "$h0" "$h1")
	read -r w_user w_sys < <(awk '$1 == "time" { print $2, $3 }' <<<"$out")
	wrk_j=$(awk -v u="$w_user" -v s="$w_sys" 'BEGIN { printf "%d", (u + s) * 100 }')
	mine=$((s1 - s0 + wrk_j))
	other=$(awk -v t=$((b1 - b0)) -v m="$mine" 'BEGIN { o = t - m; if (o < 0) o = 0; printf "%.0f", (t > 0 ? 100 * o / t : 0) }')
	awk -v db="$db" -v l="$label" -v other="$other" -v steal="$steal" -v sp99="${sp99:--}" '
		$1 == "rps" { rps = $2 } $1 == "p50_us" { p50 = $2 } $1 == "p99_us" { p99 = $2 }
		$1 == "non2xx" { bad = $2 } $1 == "errors" { err = $2 } $1 == "p999_us" { p999 = sprintf("%8.2f", $2 / 1000) }
		$1 == "lag99_us" { lag = sprintf("%8.2f", $2 / 1000) }
		END { printf "%-8s %-11s %9.0f %8.2f %8.2f %6d %6d %5s%% %5s%% %11s %s %s\n", db, l, rps, p50 / 1000, p99 / 1000, bad, err, other, steal, sp99, p999, lag }' \
		<<<"$out" | tee -a "$keep"
}

check_answers() { # check_answers PORT: a few tokens must be active, an unknown one not
	local port=$1 body
	for n in 1 $((sessions / 2)) "$sessions"; do
		body=$(sed -n "${n}p" "$tmp/introspect.jsonl")
		curl -fsS -H "Authorization: Bearer $(cat "$tmp/admin.key")" -H 'Content-Type: application/json' \
			-d "$body" "http://127.0.0.1:$port/admin/v1/sessions/introspect" | grep -q '"active":true' ||
			{ echo "token $n is not active on port $port" >&2; exit 1; }
	done
	curl -fsS -H "Authorization: Bearer $(cat "$tmp/admin.key")" -H 'Content-Type: application/json' \
		-d '{"token":"wss_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}' \
		"http://127.0.0.1:$port/admin/v1/sessions/introspect" | grep -q '"active":false' ||
		{ echo "an unknown token is active on port $port" >&2; exit 1; }
}

# bench DB: set up the database, start the servers, run the rounds, stop them.
bench() {
	db=$1
	local dir=$tmp/$db port wport bport env=() url
	mkdir -p "$dir"
	port=$(free_port)
	wport=$(free_port)
	bport=$(free_port)
	if [[ $db == sqlite ]]; then
		url="sqlite://$dir/warden-data/warden.db"
		env=(WARDEN_DATABASE_URL="$url")
		serve=(serve --dev)
	else
		: "${WARDEN_TEST_POSTGRES_URL:?set WARDEN_TEST_POSTGRES_URL for the postgres run}"
		pg_schema=bench_introspect_$(date +%s)_$$
		psql "$WARDEN_TEST_POSTGRES_URL" -qc "CREATE SCHEMA $pg_schema" >/dev/null
		local sep='?'
		[[ $WARDEN_TEST_POSTGRES_URL == *\?* ]] && sep='&'
		url="$WARDEN_TEST_POSTGRES_URL${sep}search_path=$pg_schema"
		env=(WARDEN_DATABASE_URL="$url" WARDEN_SECRET_KEY="$(head -c 32 /dev/urandom | base64)"
			WARDEN_SMTP_URL=smtp://127.0.0.1:1)
		(cd "$dir" && env "${env[@]}" "$tmp/bin/warden" migrate)
		serve=(serve)
	fi
	"$tmp/bin/seed" -db "$url" -n "$sessions" -out "$tmp" | sed 's/^/   /'
	local admin_env=WARDEN_ADMIN_KEY=wdn_bench_bootstrap_key_not_used_by_the_load_0123456789
	(cd "$dir" && exec "${srv_pin[@]}" env "${env[@]}" "$admin_env" WARDEN_ADDR=127.0.0.1:$port \
		"$tmp/bin/warden" "${serve[@]}" >"$tmp/warden-$db.log" 2>&1) &
	local wpid=$!
	pids+=("$wpid")
	wait_healthy "$port" "$wpid" "$tmp/warden-$db.log"
	local nwpid=""
	if [[ $logcost == 1 ]]; then
		(cd "$dir" && exec "${srv_pin[@]}" env "${env[@]}" "$admin_env" WARDEN_ADDR=127.0.0.1:$wport WARDEN_LOG_LEVEL=warn \
			"$tmp/bin/warden" "${serve[@]}" >"$tmp/warden-warn-$db.log" 2>&1) &
		nwpid=$!
		pids+=("$nwpid")
		wait_healthy "$wport" "$nwpid" "$tmp/warden-warn-$db.log"
	fi
	local opid="" oport
	if [[ -n ${BASELINE_BIN:-} ]]; then
		oport=$(free_port)
		(cd "$dir" && exec "${srv_pin[@]}" env "${env[@]}" "$admin_env" WARDEN_ADDR=127.0.0.1:$oport \
			"$BASELINE_BIN" "${serve[@]}" >"$tmp/baseline-$db.log" 2>&1) &
		opid=$!
		pids+=("$opid")
		wait_healthy "$oport" "$opid" "$tmp/baseline-$db.log"
	fi
	"${srv_pin[@]}" "$tmp/bin/bare" -addr 127.0.0.1:$bport -tokens "$tmp/tokens.txt" 2>/dev/null &
	local bpid=$!
	pids+=("$bpid")
	sleep 0.3
	check_answers "$port"
	local auth="Bearer $(cat "$tmp/admin.key")"
	local wurl=http://127.0.0.1:$port/admin/v1/sessions/introspect
	local nurl=http://127.0.0.1:$wport/admin/v1/sessions/introspect
	local burl=http://127.0.0.1:$bport/introspect
	echo "== $db: warm-up (every token once into the caches)"
	dur=3s run warm-up "$wurl" "$auth" "$wpid"
	[[ -z $nwpid ]] || dur=3s run warm-up "$nurl" "$auth" "$nwpid"
	local ourl=http://127.0.0.1:${oport:-0}/admin/v1/sessions/introspect
	[[ -z $opid ]] || dur=3s run warm-up "$ourl" "$auth" "$opid"
	for r in $(seq 1 "$rounds"); do
		run warden "$wurl" "$auth" "$wpid"
		[[ -z $nwpid ]] || run warden-warn "$nurl" "$auth" "$nwpid"
		[[ -z $opid ]] || run baseline "$ourl" "$auth" "$opid"
		run bare "$burl" "" "$bpid"
	done
	check_answers "$port"
	local lines
	lines=$(grep -c '"msg":"request"\|msg=request' "$tmp/warden-$db.log" || true)
	echo "   access-log lines written by warden ($db, level info): $lines"
	for p in "$wpid" $nwpid $opid "$bpid"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	pids=()
	if [[ -n $pg_schema ]]; then
		psql "$WARDEN_TEST_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1
		pg_schema=""
	fi
}

if [[ $gen == openloop ]]; then
	load="openloop -rate $rate -conns $conns -duration $duration${GEN_PROCS:+ GOMAXPROCS=$GEN_PROCS}"
else
	load="wrk -t$threads -c$conns -d$duration"
fi
echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $load, $sessions sessions, $rounds rounds${GEN_CPUS:+, generator on CPU $GEN_CPUS}${SERVER_CPUS:+, servers on CPU $SERVER_CPUS}"
printf '%-8s %-11s %9s %8s %8s %6s %6s %6s %6s %11s' db target req/s p50_ms p99_ms non2xx errors other steal server_p99
if [[ $gen == openloop ]]; then printf ' %8s %8s' p999_ms lag99_ms; fi
echo
case $mode in
sqlite | postgres) bench "$mode" ;;
both) bench sqlite && bench postgres ;;
*) echo "usage: $0 [sqlite|postgres|both]" >&2; exit 2 ;;
esac

echo
echo "== medians over $rounds rounds (req/s, p99 ms) and ratio to bare in the same rounds"
awk '
	{ k = $1 " " $2; n[k]++; rps[k, n[k]] = $3; p99[k, n[k]] = $5; p999[k, n[k]] = ($11 == "" ? 0 : $11); dbs[$1] = 1; if ($2 == "bare") bare[$1, n[k]] = $3 }
	function median(arr, k, m,   i, j, t, v) {
		for (i = 1; i <= m; i++) v[i] = arr[k, i]
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
	}
	END {
		for (k in n) {
			split(k, a, " ")
			line = sprintf("%-8s %-11s %9.0f req/s  p99 %6.2f ms", a[1], a[2], median(rps, k, n[k]), median(p99, k, n[k]))
			if (p999[k, 1] > 0) line = line sprintf("  p99.9 %6.2f ms", median(p999, k, n[k]))
			if (a[2] != "bare") {
				for (i = 1; i <= n[k]; i++) ratio[k, i] = rps[k, i] / bare[a[1], i]
				line = line sprintf("  ratio to bare %.2f", median(ratio, k, n[k]))
			}
			print line
		}
	}' "$results" | sort
