#!/bin/sh
# Benchmark the slowlog reader (internal/logscan) against grep on a
# generated php-fpm slowlog.
#
#   bench/slowlog.sh [SIZE_BYTES]     (default 200 MiB)
#
# Environment: ROUNDS=N side-by-side rounds (default 3).
#
# Generates a slowlog of 30 days ending now (several scripts, traces of 3
# to 12 frames, the odd "+++ dump failed"), then runs side by side on the
# same page-cached file:
#   1. grep -c script_filename FILE   (counts every entry: reads it all)
#   2. logscan, whole file: every entry parsed and grouped by script/frame
#   3. logscan --since 1h: seek by time, then parse and group the last hour
set -eu

SIZE=${1:-209715200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/slowlog-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
LOG=$TMP/www.slow.log
BIN=$TMP/logscan.test
ROUNDS=${ROUNDS:-3}

echo "building test binary..."
(cd "$ROOT" && go test -c -o "$BIN" ./internal/logscan)
echo "generating $SIZE bytes of slowlog in $LOG..."
SLOWLOG_BENCH_MODE=gen SLOWLOG_BENCH_FILE=$LOG SLOWLOG_BENCH_SIZE=$SIZE "$BIN" -test.run '^TestSlowlogBenchTool$' >/dev/null
ls -l "$LOG"
cat "$LOG" >/dev/null # page cache: every contender reads from memory

run() { # label, command...
	label=$1
	shift
	start=$(date +%s.%N)
	out=$("$@") || true
	end=$(date +%s.%N)
	printf '%-26s %s s wall\n' "$label" "$(echo "$end - $start" | bc 2>/dev/null || echo '?')"
	printf '%s\n' "$out" | sed 's/^/    /' | grep -v '^    PASS$' || true
}

echo
echo "== side by side (cpus: $(nproc 2>/dev/null || echo ?), load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?))"
for round in $(seq "$ROUNDS"); do
	echo "-- round $round"
	run "grep -c script_filename" grep -c script_filename "$LOG"
	run "logscan slowlog, all" env SLOWLOG_BENCH_MODE=full SLOWLOG_BENCH_FILE="$LOG" "$BIN" -test.run '^TestSlowlogBenchTool$'
	run "logscan slowlog --since 1h" env SLOWLOG_BENCH_MODE=since SLOWLOG_BENCH_SINCE=1h SLOWLOG_BENCH_FILE="$LOG" "$BIN" -test.run '^TestSlowlogBenchTool$'
done
