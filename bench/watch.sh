#!/usr/bin/env bash
# `fpmdoctor watch` on a host with N php-fpm pools (default 100), measured
# side by side with the tools people use today, in one run:
#   1. /metrics latency (p50/p99 over R scrapes) while EVERY pool is
#      saturated (each worker sleeps in a PHP script), next to reading one
#      saturated pool's status page the way hipages/php-fpm_exporter does
#      (a FastCGI request with no deadline of its own; cgi-fcgi here,
#      bounded by `timeout 5` so the script ends);
#   2. watch's own RSS on that host (VmRSS, and VmHWM: the peak);
#   3. watch's CPU at L nginx error-log lines per second (default 100, all
#      of them 502s the watcher classifies and counts), next to
#      `tail -F` reading the same lines.
# Needs root, nginx, php8.2-fpm, libfcgi-bin (cgi-fcgi) and python3. Usage:
#   sudo bench/watch.sh [POOLS] [LINES_PER_SECOND] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
RATE=${2:-100}
SECS=${3:-30}
R=${R:-300}
. "$(dirname "$0")/watchlib.sh"
watch_host watchbench "$N"
echo "== host: $N pools (pm static, max_children 1, pm.status_path set), $N server blocks; watch pid $WPID"
# Every pool read once and up before the pools are saturated. The deadline:
# one --pool-interval (10 s) and a margin.
ms=$(wait_pools "$PORT" "$N" 0 30)
echo "   phpfpm_up: $N series, all 1 (${ms} ms after the first diagnosis)"

# 1. Saturate every pool: one request per pool sleeping 90 s holds its only
# worker. A pool shows phpfpm_up 0 at its next read, up to --pool-interval
# (10 s) later, and then only when that read times out (--pool-timeout 2 s,
# 16 at a time): counting right after saturating counted pools read while
# still idle (this printed "up=0 pools: 0" with every series there and 1).
saturate "$W" "$N" 90
ms=$(wait_pools "$PORT" "$N" "$N" $((10 + 2 * ((N + 15) / 16) + 15)))
echo "   phpfpm_up: $N series, all 0, ${ms} ms after saturating them"
echo "== 1. /metrics with all $N pools saturated ($R sequential scrapes)"
scrape_latency "$PORT" "$R"
read -r series down < <(pools_up "$PORT")
echo "   after the scrapes: $series phpfpm_up series, $down of them 0"
echo "== 1b. the status page of one saturated pool read directly (what an exporter without a deadline does; capped here at 5 s)"
start=$(date +%s.%N)
SCRIPT_NAME=/status SCRIPT_FILENAME=/status QUERY_STRING='' REQUEST_METHOD=GET timeout 5 cgi-fcgi -bind -connect "$W/run/site1.sock" >/dev/null 2>&1 || echo "   cgi-fcgi: no answer (exit $?)"
echo "   took $(python3 -c "print(round($(date +%s.%N)-$start,2))") s"

echo "== 2. watch's memory on this host"
grep -E 'VmRSS|VmHWM' "/proc/$WPID/status" | sed 's/^/   /'

# 3a. CPU with no log lines (diagnoses every 30 s, 100 pool reads every 10 s).
hz=$(getconf CLK_TCK)
i0=$(cpu_ticks "$WPID"); sleep "$SECS"; i1=$(cpu_ticks "$WPID")
echo "== 3a. CPU with no log lines for $SECS s: $(python3 -c "print(f'{100*($i1-$i0)/$hz/$SECS:.2f}')")% of one core"
# 3. CPU at RATE lines/s: watch vs tail -F on the same log.
echo "== 3. CPU at $RATE nginx error-log lines/s for $SECS s (every line a 502 the watcher counts)"
tail -F -n 0 "$W/log/nginx-error.log" >/dev/null 2>&1 &
TPID=$!; PIDS+=("$TPID")
before=$(failures "$PORT")
w0=$(cpu_ticks "$WPID"); t0=$(cpu_ticks "$TPID")
write_lines "$W" "$N" "$RATE" "$SECS"
sleep 2
w1=$(cpu_ticks "$WPID"); t1=$(cpu_ticks "$TPID")
python3 - "$w0" "$w1" "$t0" "$t1" "$hz" "$SECS" <<'PY'
import sys
w0,w1,t0,t1,hz,secs=map(float,sys.argv[1:])
span=secs+2
print(f"   fpmdoctor watch: {100*(w1-w0)/hz/span:.2f}% of one core ({(w1-w0)/hz:.2f} s CPU)")
print(f"   tail -F:         {100*(t1-t0)/hz/span:.2f}% of one core ({(t1-t0)/hz:.2f} s CPU)")
PY
after=$(failures "$PORT")
echo "   fpmdoctor_upstream_failures_total grew by $((after-before)) (lines written: see 'wrote' above)"
grep -E 'VmRSS|VmHWM' "/proc/$WPID/status" | sed 's/^/   after: /'
