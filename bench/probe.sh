#!/usr/bin/env bash
# bench/probe.sh: compare `fpmdoctor probe` with the usual cgi-fcgi
# healthcheck against the same php-fpm, in one run.
#
#   sudo bench/probe.sh [RUNS]        (default 500 runs per command)
#
# Needs root (php-fpm drops its workers to www-data), php-fpm8.2, cgi-fcgi
# (libfcgi-bin) and Go; uses hyperfine when installed, else a timed loop.
# It starts a private php-fpm in a temporary prefix (ping and status
# enabled), measures
#   1. cgi-fcgi -bind -connect SOCKET   (SCRIPT_NAME=/ping … in the environment)
#   2. fpmdoctor probe unix:SOCKET --ping-path /ping
#   3. sh -c 'cgi-fcgi … | grep -q pong'  (what the usual healthcheck script runs)
#   4. fpmdoctor probe … --as-user www-data (connect as nginx's worker user)
# as whole processes, then the in-process client round trip with go test
# -bench, and prints the ratio. Everything is removed on exit.
set -euo pipefail

runs=${1:-500}
repo=$(cd "$(dirname "$0")/.." && pwd)
fpm=${FPM:-/usr/sbin/php-fpm8.2}

[ "$(id -u)" = 0 ] || { echo "bench/probe.sh: needs root" >&2; exit 2; }
for bin in "$fpm" cgi-fcgi go; do
	command -v "$bin" >/dev/null || { echo "bench/probe.sh: $bin not found" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/fpmbench-XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/run" "$tmp/log"
cleanup() {
	if [ -s "$tmp/run/php-fpm.pid" ]; then
		kill -QUIT "$(cat "$tmp/run/php-fpm.pid")" 2>/dev/null || true
		sleep 0.3
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/php-fpm.conf" <<CONF
[global]
pid = $tmp/run/php-fpm.pid
error_log = $tmp/log/php-fpm.log
daemonize = yes

[www]
user = www-data
group = www-data
listen = $tmp/run/php-fpm.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 4
ping.path = /ping
pm.status_path = /status
CONF
"$fpm" --fpm-config "$tmp/php-fpm.conf" --prefix "$tmp"
sock=$tmp/run/php-fpm.sock

echo "== building a static fpmdoctor"
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/fpmdoctor" ./cmd/fpmdoctor)

# The cgi-fcgi healthcheck reads its request from the environment.
export SCRIPT_NAME=/ping SCRIPT_FILENAME=/ping REQUEST_METHOD=GET QUERY_STRING=
cgi_cmd="cgi-fcgi -bind -connect $sock"
script_cmd="sh -c '$cgi_cmd | grep -q pong'"
our_cmd="$tmp/fpmdoctor probe unix:$sock --ping-path /ping"
# The same as nginx's worker user: the connect runs with www-data's identity.
as_cmd="$our_cmd --as-user www-data"

echo "== sanity"
$cgi_cmd | grep -q pong || { echo "cgi-fcgi did not get pong" >&2; exit 1; }
$our_cmd
$as_cmd

echo "== process round trip, $runs runs each"
if command -v hyperfine >/dev/null; then
	hyperfine -N --warmup 20 --runs "$runs" --export-json "$tmp/h.json" \
		-n cgi-fcgi "$cgi_cmd" -n "sh+cgi-fcgi+grep" "$script_cmd" -n "fpmdoctor probe" "$our_cmd" \
		-n "fpmdoctor probe --as-user" "$as_cmd"
	if command -v python3 >/dev/null; then
		python3 - "$tmp/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
f = r["fpmdoctor probe"]
for name, x in r.items():
    print(f"{name:18} mean {x['mean']*1e3:7.3f} ms  median {x['median']*1e3:7.3f} ms  min {x['min']*1e3:7.3f} ms")
for name in ("cgi-fcgi", "sh+cgi-fcgi+grep"):
    x = r[name]
    print(f"ratio {name} / fpmdoctor probe: mean {x['mean']/f['mean']:.2f}, median {x['median']/f['median']:.2f}")
PY
	fi
else
	timeit() {
		local start end
		start=$(date +%s%N)
		for _ in $(seq "$runs"); do "$@" >/dev/null; done
		end=$(date +%s%N)
		echo $(((end - start) / runs / 1000))
	}
	c=$(timeit $cgi_cmd)
	s=$(timeit sh -c "$cgi_cmd | grep -q pong")
	f=$(timeit $our_cmd)
	a=$(timeit $as_cmd)
	echo "cgi-fcgi        mean ${c} us"
	echo "sh+cgi-fcgi+grep mean ${s} us"
	echo "fpmdoctor probe mean ${f} us"
	echo "fpmdoctor probe --as-user www-data mean ${a} us"
	awk -v c="$c" -v s="$s" -v f="$f" 'BEGIN { printf "ratio cgi-fcgi / fpmdoctor = %.2f, sh+cgi-fcgi+grep / fpmdoctor = %.2f\n", c / f, s / f }'
fi

echo "== in-process client round trip (connect, ping, close) against a lab php-fpm"
echo "   (what diagnose and a long-running exporter pay: no fork/exec; compare with cgi-fcgi's time above)"
(cd "$repo" && go test -run '^$' -bench BenchmarkRoundTrip -benchtime 3000x ./internal/fastcgi/)
