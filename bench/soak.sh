#!/usr/bin/env bash
# Soak `fpmdoctor watch`: RATE nginx error-log lines a second (default
# 1,000, every one a 502 it classifies and counts) for SECONDS (default
# 600) on a host with N pools (default 100), with two rotations (rename +
# USR1 at a third of the run, copytruncate at two thirds). Reports, side by
# side with `tail -F` on the same log:
#   - watch's RSS every INTERVAL seconds (flat = bounded), and its peak;
#   - CPU per 1,000 lines;
#   - /metrics latency p50/p99 for the N pools, sampled during the run;
#   - lines written vs fpmdoctor_upstream_failures_total (must be equal).
# Exits 1 with a FAIL line when a check fails (the counts differ, a pool
# is missing or down, the watcher logged an error or died), else 0.
# Needs root, nginx, php8.2-fpm and python3. Usage:
#   sudo bench/soak.sh [SECONDS] [RATE] [POOLS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
RATE=${2:-1000}
N=${3:-100}
STEP=${INTERVAL:-$(( SECS / 20 > 5 ? SECS / 20 : 5 ))}
. "$(dirname "$0")/watchlib.sh"
watch_host soak "$N"
tail -F -n 0 "$W/log/nginx-error.log" >/dev/null 2>&1 &
TPID=$!; PIDS+=("$TPID")
echo "== soak: $RATE lines/s for $SECS s, $N pools, rotations at $((SECS/3)) s (rename) and $((2*SECS/3)) s (copytruncate)"
hz=$(getconf CLK_TCK)
before=$(failures "$PORT")
w0=$(cpu_ticks "$WPID"); t0=$(cpu_ticks "$TPID")
ROTATE="$((SECS/3)):rename $((2*SECS/3)):copytruncate" write_lines "$W" "$N" "$RATE" "$SECS" 2>"$W/written" &
GEN=$!; PIDS+=("$GEN")
echo "   t(s)  RSS(KiB)  scrape p50/p99"
t=0
while kill -0 "$GEN" 2>/dev/null; do
  sleep "$STEP"; t=$((t + STEP))
  if ! kill -0 "$WPID" 2>/dev/null; then
    echo "FAIL: fpmdoctor watch (pid $WPID) exited during the soak, at about $t s; the end of its log:" >&2
    tail -n 20 "$W/watch.log" >&2
    exit 1
  fi
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$WPID/status")
  lat=$(scrape_latency "$PORT" 20 | sed -E 's/.*p50 ([0-9.]+) ms, p99 ([0-9.]+) ms.*/\1\/\2 ms/')
  printf "   %4d  %8s  %s\n" "$t" "$rss" "$lat"
done
gen=0; wait "$GEN" || gen=$?
written=$(awk '/^ *wrote [0-9]+ lines/ {print $2}' "$W/written")
if [ "$gen" -ne 0 ] || [ -z "$written" ] || [ "$written" -eq 0 ]; then
  echo "FAIL: the line writer exited $gen having reported ${written:-nothing}:" >&2
  cat "$W/written" >&2
  exit 1
fi
sleep 3
w1=$(cpu_ticks "$WPID"); t1=$(cpu_ticks "$TPID")
after=$(failures "$PORT")
python3 - "$w0" "$w1" "$t0" "$t1" "$hz" "$written" "$SECS" <<'PY'
import sys
w0,w1,t0,t1,hz,n,secs=map(float,sys.argv[1:])
print(f"   CPU per 1,000 lines: fpmdoctor watch {1000*(w1-w0)/hz/n*1000:.1f} ms, tail -F {1000*(t1-t0)/hz/n*1000:.1f} ms")
print(f"   CPU over the run: fpmdoctor watch {100*(w1-w0)/hz/secs:.2f}% of one core, tail -F {100*(t1-t0)/hz/secs:.2f}%")
PY
echo "   /metrics with $N pools at the end:"
scrape_latency "$PORT" 200
grep -E 'VmRSS|VmHWM' "/proc/$WPID/status" | sed 's/^/   /'
read -r series down < <(pools_up "$PORT")
# grep -c prints 0 and exits 1 when nothing matches: under pipefail that
# was this script's exit status, 1, after a run where everything went well.
errors=$(grep -c 'level=ERROR' "$W/watch.log" || true)
echo "   lines written: $written; fpmdoctor_upstream_failures_total grew by $((after - before))"
echo "   phpfpm_up: $series series, $down of them 0; watch error log lines: $errors"

# The checks: every line counted once, every pool still exported and up
# (nothing saturates them here), nothing the watcher logged as an error.
fail=()
[ $((after - before)) -eq "$written" ] ||
  fail+=("fpmdoctor_upstream_failures_total grew by $((after - before)), not by the $written lines written")
[ "$series" -eq "$N" ] || fail+=("$series phpfpm_up series for $N pools")
[ "$down" -eq 0 ] || fail+=("$down pools with phpfpm_up 0 at the end (idle pools)")
[ "$errors" -eq 0 ] || fail+=("$errors error lines in the watcher's log (the first 5 follow)")
if [ ${#fail[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${fail[@]}" >&2
  grep -m 5 'level=ERROR' "$W/watch.log" >&2 || true
  exit 1
fi
echo "== soak passed: every line counted, all $N pools up, no error logged"
