#!/usr/bin/env bash
# Measures how fast an idle `warden serve --dev` starts and how much memory it holds.
#
# For each run: a fresh temporary working directory, a free port in WARDEN_ADDR,
# then
#   first start  — empty directory: creates ./warden-data, the SQLite file, runs the migrations;
#   warm restart — the same directory again, after a clean stop.
# Startup time is from just before exec to the first 200 from GET /healthz
# (polled every 2 ms over bash's /dev/tcp, so no process is spawned per poll).
# Memory is VmRSS from /proc/PID/status after IDLE seconds of idleness (VmHWM is the peak).
#
# Usage: scripts/bench-startup.sh [RUNS]        (default 5)
# Env:   WARDEN_BIN  binary to measure (default: go build -o /tmp/warden ./cmd/warden)
#        IDLE        seconds to wait before reading memory (default 2)
#        TIMEOUT     seconds to wait for /healthz before giving up (default 10)
set -euo pipefail

runs=${1:-5}
idle=${IDLE:-2}
timeout=${TIMEOUT:-10}
root=$(cd "$(dirname "$0")/.." && pwd)

bin=${WARDEN_BIN:-}
if [[ -z $bin ]]; then
	bin=/tmp/warden
	(cd "$root" && go build -o "$bin" ./cmd/warden)
fi
[[ -x $bin ]] || { echo "not executable: $bin" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# now_us prints the wall clock in microseconds without forking.
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# healthy PORT: true when GET /healthz answers 200.
healthy() {
	local line
	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	IFS= read -r -t 1 line <&3 || true
	exec 3>&- 3<&-
	[[ $line == "HTTP/1."?" 200"* ]]
}

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

pid=""
cleanup() { if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

# measure DIR LABEL: start warden in DIR, print one result line, stop it.
measure() {
	local dir=$1 label=$2 port t0 t1 deadline ms rss hwm log
	port=$(free_port)
	log=$logs/$label.log # outside dir, which holds only what warden creates
	cd "$dir"
	t0=$(now_us)
	WARDEN_ADDR=127.0.0.1:$port "$bin" serve --dev >"$log" 2>&1 &
	pid=$!
	deadline=$((t0 + timeout * 1000000))
	until healthy "$port"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "warden exited; log:" >&2; cat "$log" >&2; exit 1
		fi
		if (($(now_us) > deadline)); then
			echo "no 200 from /healthz within ${timeout}s; log:" >&2; cat "$log" >&2; exit 1
		fi
		sleep 0.002
	done
	t1=$(now_us)
	ms=$(((t1 - t0) / 1000)).$(printf '%01d' $((((t1 - t0) % 1000) / 100)))
	sleep "$idle"
	rss=$(status_kib "$pid" VmRSS)
	hwm=$(status_kib "$pid" VmHWM)
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	cd - >/dev/null
	awk -v l="$label" -v ms="$ms" -v rss="$rss" -v hwm="$hwm" \
		'BEGIN { printf "%-13s %8s ms %8.1f MiB %8.1f MiB\n", l, ms, rss / 1024, hwm / 1024 }'
}

echo "binary: $bin ($(stat -c %s "$bin") bytes); cores: $(nproc); $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-13s %11s %12s %12s\n' "run" "to 200" "VmRSS" "VmHWM"
results=$(mktemp)
logs=$(mktemp -d)
for i in $(seq 1 "$runs"); do
	dir=$(mktemp -d)
	measure "$dir" first-start | tee -a "$results"
	measure "$dir" warm-restart | tee -a "$results"
	rm -rf "$dir"
done

# Median, min and max per kind.
echo
printf '%-13s %24s %26s\n' "median (range)" "to 200, ms" "VmRSS after ${idle}s, MiB"
# median FIELD KIND: "median (min-max)" of a column of the results.
median() {
	awk -v k="$2" -v f="$1" '$1 == k { print $f }' "$results" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.1f (%.1f-%.1f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
for kind in first-start warm-restart; do
	printf '%-13s %24s %26s\n' "$kind" "$(median 2 "$kind")" "$(median 4 "$kind")"
done
rm -rf "$results" "$logs"
