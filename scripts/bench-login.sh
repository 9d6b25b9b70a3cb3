#!/usr/bin/env bash
# Login benchmarks against a real `warden serve --dev` (SQLite), beside bare
# Argon2id measured on the same machine in the same run.
#
#   cpu         CPU time a login costs besides its password hash. The server runs at
#               the cheapest parameters it accepts (WARDEN_PASSWORD_MEMORY_KIB=17920,
#               WARDEN_PASSWORD_ITERATIONS=2: m×t = 35840, the floor), wrk logs in with
#               rotating accounts for DURATION; CPU = the server's and wrk's user+system
#               time (/proc/PID/stat, /usr/bin/time), divided by the successful logins,
#               minus the CPU time of one bare hash at those parameters
#               (internal/loadtest/argon, 2 goroutines, for DURATION just before and
#               just after each login run: the mean of the two).
#   throughput  Logins per second at the default parameters (m=19456 t=2), wrk with
#               CONNS connections, against bare argon2.IDKey with 2 goroutines for the
#               same DURATION just before and just after each login run (the mean).
#   timing      Medians of N unknown-email and N wrong-password logins, one request at
#               a time, interleaved (internal/loadtest/logintiming), default parameters.
#
# Every login succeeds or fails for real: rate limiting, the account lookup, the
# hash, the session, device and audit records are all in. Only the rate limits are
# raised (WARDEN_RATE_LOGIN_PER_IP/PER_ACCOUNT) so that the load is not refused;
# the buckets are still checked and written on every login.
# "other" is the share of the machine's busy CPU time used by other processes
# during a run: this machine is shared, and a run with much other load says little.
#
# With BASELINE_BIN (another warden binary, e.g. built from an older commit), cpu and
# throughput start a second server from it, on its own fresh database, and each
# round runs the two one after the other, each login run between two bare runs,
# so that before/after compare within one run.
#
# Usage: scripts/bench-login.sh [cpu|throughput|timing|all]   (default: all)
# Env:   ROUNDS (3), DURATION (15s), CONNS (8), ACCOUNTS (2000), N (200), BASELINE_BIN (unset),
#        WARDEN_BIN (default: go build ./cmd/warden from this tree)
# Needs: go, wrk, python3. Only loopback traffic; every run is bounded.
set -euo pipefail

what=${1:-all}
rounds=${ROUNDS:-3}
duration=${DURATION:-15s}
conns=${CONNS:-8}
accounts=${ACCOUNTS:-2000}
pairs=${N:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
lua=$root/scripts/wrk-bodies.lua
secs=${duration%s}

tmp=$(mktemp -d /tmp/bench-login.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building (go build) into $tmp/bin"
(mkdir -p "$tmp/bin" && cd "$root" && for c in seed argon logintiming; do go build -o "$tmp/bin/$c" ./internal/loadtest/$c; done &&
	if [[ -n ${WARDEN_BIN:-} ]]; then cp "$WARDEN_BIN" "$tmp/bin/warden"; else go build -o "$tmp/bin/warden" ./cmd/warden; fi)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# steal_jiffies: time the hypervisor gave this VM's CPUs to others, and all time.
steal_jiffies() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat; }
# steal_pct "S0 T0" "S1 T1": the share of all CPU time stolen between two readings.
steal_pct() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'; }
pid_jiffies() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# start MEMORY ITERATIONS [BINARY]: a fresh SQLite server (default: the tree's warden)
# seeded with ACCOUNTS accounts whose hashes use those parameters; sets $port, $spid, $dir.
start() {
	local bin=${3:-$tmp/bin/warden}
	dir=$(mktemp -d "$tmp/db.XXXX")
	port=$(free_port)
	"$tmp/bin/seed" -db "sqlite://$dir/warden-data/warden.db" -n "$accounts" -out "$dir" \
		-memory "$1" -iterations "$2" | sed 's/^/   /'
	(cd "$dir" && exec env WARDEN_ADDR=127.0.0.1:$port WARDEN_PASSWORD_MEMORY_KIB=$1 WARDEN_PASSWORD_ITERATIONS=$2 \
		WARDEN_RATE_LOGIN_PER_IP=1000000/1s \
		WARDEN_ADMIN_KEY=wdn_bench_bootstrap_key_not_used_by_the_load_0123456789 \
		"$bin" serve --dev >"$dir/warden.log" 2>&1) &
	spid=$!
	pids+=("$spid")
	for _ in $(seq 1 500); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
		kill -0 "$spid" 2>/dev/null || { tail -20 "$dir/warden.log" >&2; exit 1; }
		sleep 0.02
	done
	# One login by hand: it must succeed.
	curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "$(head -1 "$dir/logins.jsonl")" \
		"http://127.0.0.1:$port/v1/sessions" || { echo "a seeded login failed" >&2; exit 1; }
}
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	pids=()
}

# servers MEMORY ITERATIONS: start "warden" and, with BASELINE_BIN, "baseline";
# fills $targets and, per target, ${port_of[t]}, ${spid_of[t]}, ${dir_of[t]}.
declare -A port_of spid_of dir_of
servers() {
	targets=(warden)
	start "$1" "$2"
	port_of[warden]=$port spid_of[warden]=$spid dir_of[warden]=$dir
	if [[ -n ${BASELINE_BIN:-} ]]; then
		targets+=(baseline)
		start "$1" "$2" "$BASELINE_BIN"
		port_of[baseline]=$port spid_of[baseline]=$spid dir_of[baseline]=$dir
	fi
}
# use TARGET: point $port, $spid, $dir at a target started by servers.
use() { port=${port_of[$1]} spid=${spid_of[$1]} dir=${dir_of[$1]}; }

# logins THREADS: one wrk run of DURATION; sets $ok (successful logins), $rate,
# $srv_j and $wrk_j (CPU jiffies), $other (% of busy CPU not ours), $steal (% stolen).
logins() {
	local b0 s0 b1 s1 out total bad u s t0
	t0=$(steal_jiffies)
	b0=$(busy_jiffies)
	s0=$(pid_jiffies "$spid")
	out=$(WRK_BODIES=$dir/logins.jsonl /usr/bin/time -f 'time %U %S' \
		wrk -t"$1" -c"$conns" -d"$duration" --timeout 10s -s "$lua" "http://127.0.0.1:$port/v1/sessions" 2>&1)
	b1=$(busy_jiffies)
	s1=$(pid_jiffies "$spid")
	steal=$(steal_pct "$t0" "$(steal_jiffies)")
	total=$(awk '/requests in/ { print $1 }' <<<"$out")
	bad=$(awk '$1 == "non2xx" { print $2 }' <<<"$out")
	ok=$((total - bad))
	[[ $bad == 0 ]] || echo "   warning: $bad logins did not succeed" >&2
	read -r u s < <(awk '$1 == "time" { print $2, $3 }' <<<"$out")
	rate=$(awk '$1 == "rps" { print $2 }' <<<"$out")
	srv_j=$((s1 - s0))
	wrk_j=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 100 }')
	other=$(awk -v t=$((b1 - b0)) -v m=$((srv_j + wrk_j)) 'BEGIN { o = t - m; if (o < 0) o = 0; printf "%.0f", (t > 0 ? 100 * o / t : 0) }')
}

# bare MEMORY ITERATIONS SECONDS: sets $brate (hashes/s), $bcpu (CPU ms per hash), $bother, $bsteal.
bare() {
	local b0 b1 out t0
	t0=$(steal_jiffies)
	b0=$(busy_jiffies)
	out=$("$tmp/bin/argon" -memory "$1" -iterations "$2" -goroutines 2 -duration "$3s")
	b1=$(busy_jiffies)
	bsteal=$(steal_pct "$t0" "$(steal_jiffies)")
	brate=$(awk '{ for (i = 1; i < NF; i++) if ($i == "rate") print $(i + 1) }' <<<"$out")
	bcpu=$(awk '{ for (i = 1; i < NF; i++) if ($i == "cpu_ms_per_hash") print $(i + 1) }' <<<"$out")
	local hashes
	hashes=$(awk '{ for (i = 1; i < NF; i++) if ($i == "hashes") print $(i + 1) }' <<<"$out")
	bother=$(awk -v t=$((b1 - b0)) -v m="$(awk -v h="$hashes" -v c="$bcpu" 'BEGIN { print h * c / 10 }')" \
		'BEGIN { o = t - m; if (o < 0) o = 0; printf "%.0f", (t > 0 ? 100 * o / t : 0) }')
}

echo "== $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $accounts accounts, DURATION=$duration, ROUNDS=$rounds"

if [[ $what == cpu || $what == all ]]; then
	echo
	echo "== cpu: CPU per login besides the hash, at the floor m=17920 KiB t=2 (wrk -t1 -c$conns)"
	servers 17920 2
	for t in "${targets[@]}"; do use "$t"; duration=3s logins 1; done # warm-up
	printf '%-5s %-8s %9s %7s %11s %9s %10s %9s %12s %8s %13s\n' round target logins/s logins "server ms" "wrk ms" "total ms" "hash ms" "besides hash" other/st "bare o/st"
	bare 17920 2 "$secs"
	prev_cpu=$bcpu prev_o=$bother/$bsteal%
	for r in $(seq 1 "$rounds"); do
		for t in "${targets[@]}"; do
			use "$t"
			logins 1
			bare 17920 2 "$secs"
			# the hash's CPU: the mean of the bare runs just before and just after
			awk -v r="$r" -v tg="$t" -v ok="$ok" -v rate="$rate" -v sj="$srv_j" -v wj="$wrk_j" -v h0="$prev_cpu" -v h1="$bcpu" \
				-v o="$other/$steal%" -v ob="$prev_o,$bother/$bsteal%" 'BEGIN {
				s = 10 * sj / ok; w = 10 * wj / ok; t = s + w; h = (h0 + h1) / 2
				printf "%-5s %-8s %9.1f %7d %11.2f %9.2f %10.2f %9.2f %12.2f %8s %13s\n", r, tg, rate, ok, s, w, t, h, t - h, o, ob }' | tee -a "$tmp/cpu.txt"
			prev_cpu=$bcpu prev_o=$bother/$bsteal%
		done
	done
	for t in "${targets[@]}"; do
		awk -v t="$t" '$2 == t { print $9 }' "$tmp/cpu.txt" | sort -n | awk -v t="$t" '{ v[NR] = $1 }
			END { printf "   %s: median CPU besides the hash: %.2f ms per login (target < 2 ms)\n", t, v[int((NR + 1) / 2)] }'
	done
	stop
fi

if [[ $what == throughput || $what == all ]]; then
	echo
	echo "== throughput: logins/s at the defaults m=19456 KiB t=2 (wrk -t2 -c$conns) vs bare Argon2id, 2 goroutines"
	servers 19456 2
	for t in "${targets[@]}"; do use "$t"; duration=3s logins 2; done # warm-up
	printf '%-5s %-8s %10s %9s %12s %13s %7s\n' round target logins/s other/st hashes/s "bare o/st" ratio
	bare 19456 2 "$secs"
	prev_rate=$brate prev_o=$bother/$bsteal%
	for r in $(seq 1 "$rounds"); do
		for t in "${targets[@]}"; do
			use "$t"
			logins 2
			bare 19456 2 "$secs"
			# the bare rate: the mean of the runs just before and just after
			awk -v r="$r" -v tg="$t" -v l="$rate" -v o="$other/$steal%" -v b0="$prev_rate" -v b1="$brate" -v ob="$prev_o,$bother/$bsteal%" \
				'BEGIN { b = (b0 + b1) / 2; printf "%-5s %-8s %10.1f %9s %12.1f %13s %7.3f\n", r, tg, l, o, b, ob, l / b }' | tee -a "$tmp/tp.txt"
			prev_rate=$brate prev_o=$bother/$bsteal%
		done
	done
	for t in "${targets[@]}"; do
		awk -v t="$t" '$2 == t { print $7 }' "$tmp/tp.txt" | sort -n | awk -v t="$t" '{ v[NR] = $1 }
			END { printf "   %s: median ratio logins/s to bare hashes/s: %.3f (target >= 0.90)\n", t, v[int((NR + 1) / 2)] }'
	done
	stop
fi

if [[ $what == timing || $what == all ]]; then
	echo
	echo "== timing: $pairs unknown-email and $pairs wrong-password logins, one at a time, interleaved (m=19456 t=2)"
	start 19456 2
	(cd "$dir" && "$tmp/bin/logintiming" -url "http://127.0.0.1:$port" -n "$pairs") | sed 's/^/   /'
	stop
fi
