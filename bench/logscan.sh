#!/bin/sh
# Benchmark internal/logscan against grep on a generated nginx error log.
#
#   bench/logscan.sh [SIZE_BYTES]     (default 1 GiB)
#
# Environment:
#   LOGSCAN_BENCH_LOG=PATH  reuse (or create, if missing) the log at PATH
#                           instead of generating a fresh one in a temp dir;
#                           it is kept afterwards.
#   ROUNDS=N                side-by-side rounds (default 3)
#   LOGSCAN_BENCH_MIX=quiet generate a normal day's log (about 4% upstream
#                           failures) instead of an incident's (about 40%)
#
# Generates a realistic error log (about 40% upstream failures, some
# multi-line FastCGI stderr, the rest ordinary noise) spanning ~30 days and
# ending now, then runs side by side on the same, page-cached file:
#   1. grep -c upstream FILE
#   2. a full logscan classification of FILE (what Scan does: read through a
#      memory mapping), and the same through read(2) for comparison
#   3. a logscan --since 1h scan (time-window seek): bytes read and time
# Peak RSS comes from /usr/bin/time -v when present, else from VmHWM as
# printed by the scan itself.
set -eu

SIZE=${1:-1073741824}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/logscan-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
LOG=${LOGSCAN_BENCH_LOG:-$TMP/error.log}
BIN=$TMP/logscan.test
ROUNDS=${ROUNDS:-3}

echo "building test binary..."
(cd "$ROOT" && go test -c -o "$BIN" ./internal/logscan)

if [ -n "${LOGSCAN_BENCH_LOG:-}" ] && [ -s "$LOG" ]; then
	echo "reusing $LOG (its last hour is when it was generated; --since 1h may find little)"
else
	echo "generating $SIZE bytes of nginx error log in $LOG..."
	LOGSCAN_BENCH_MODE=gen LOGSCAN_BENCH_FILE=$LOG LOGSCAN_BENCH_SIZE=$SIZE LOGSCAN_BENCH_MIX=${LOGSCAN_BENCH_MIX:-} "$BIN" -test.run '^TestBenchTool$' >/dev/null
fi
ls -l "$LOG"
cat "$LOG" >/dev/null # warm the page cache so every contender reads from memory

if [ -x /usr/bin/time ]; then
	TIMEV="/usr/bin/time -f %e_s_real_%U_s_user_%S_s_sys_peak_RSS_%M_KB"
else
	TIMEV=""
fi

run() { # label, command...
	label=$1
	shift
	start=$(date +%s.%N)
	if [ -n "$TIMEV" ]; then
		out=$($TIMEV "$@" 2>"$TMP/time.txt") || true
		res=$(tr '_' ' ' <"$TMP/time.txt" | tail -1)
	else
		out=$("$@") || true
		res=""
	fi
	end=$(date +%s.%N)
	printf '%-22s %s\n' "$label" "$(echo "$end - $start" | bc 2>/dev/null || echo '?') s wall; $res"
	printf '%s\n' "$out" | sed 's/^/    /' | grep -v '^    PASS$' || true
}

echo
echo "== side by side (cpus: $(nproc 2>/dev/null || echo ?), load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?))"
for round in $(seq "$ROUNDS"); do
	echo "-- round $round"
	run "grep -c upstream" grep -c upstream "$LOG"
	run "logscan full scan" env LOGSCAN_BENCH_MODE=full LOGSCAN_BENCH_FILE="$LOG" "$BIN" -test.run '^TestBenchTool$'
	run "  same, read(2)" env LOGSCAN_BENCH_MODE=full-read LOGSCAN_BENCH_FILE="$LOG" "$BIN" -test.run '^TestBenchTool$'
	run "logscan --since 1h" env LOGSCAN_BENCH_MODE=since LOGSCAN_BENCH_SINCE=1h LOGSCAN_BENCH_FILE="$LOG" "$BIN" -test.run '^TestBenchTool$'
done
