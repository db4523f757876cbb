#!/usr/bin/env bash
# bench/probe.sh: compare `fpmdoctor probe` and `fpmdoctor-probe` with the
# usual cgi-fcgi healthcheck against the same php-fpm, in one run.
#
#   sudo bench/probe.sh [RUNS]        (default 200 runs per command and round)
#   ROUNDS=5 BEFORE=main sudo bench/probe.sh   (also time fpmdoctor built from a git ref)
#
# Needs root (php-fpm drops its workers to www-data), php-fpm8.2, cgi-fcgi
# (libfcgi-bin), hyperfine and Go. It starts a private php-fpm in a
# temporary prefix (ping and status enabled) and measures, as whole
# processes, interleaved in ROUNDS rounds (default 3) of hyperfine so the
# load of a shared machine falls on all of them alike:
#   - an empty static Go program (the floor for any Go binary), built as
#     Go builds by default and with GOEXPERIMENT=nogreenteagc
#   - cgi-fcgi -bind -connect SOCKET   (SCRIPT_NAME=/ping … in the environment)
#   - sh -c 'cgi-fcgi … | grep -q pong'  (what the usual healthcheck script runs)
#   - fpmdoctor probe unix:SOCKET --ping-path /ping, --as-user self and auto
#   - fpmdoctor-probe, the same arguments, and --as-user self once more
#     built with Go's default garbage collector
# fpmdoctor and fpmdoctor-probe are built as scripts/package builds them
# (GOEXPERIMENT=nogreenteagc; LEAN= to build them with Go's default);
# BEFORE is built with Go's defaults, as it shipped.
# and prints min and the range of medians over the rounds, then the
# in-process client round trip with go test -bench. Everything is removed
# on exit.
set -euo pipefail

runs=${1:-200}
rounds=${ROUNDS:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
fpm=${FPM:-/usr/sbin/php-fpm8.2}

[ "$(id -u)" = 0 ] || { echo "bench/probe.sh: needs root" >&2; exit 2; }
for bin in "$fpm" cgi-fcgi go hyperfine python3; do
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

lean=${LEAN-nogreenteagc}
echo "== building static binaries (CGO_ENABLED=0 -trimpath -ldflags='-s -w'; fpmdoctor and fpmdoctor-probe with GOEXPERIMENT=$lean)"
build() { (cd "$1" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$2" "$3"); }
GOEXPERIMENT=$lean build "$repo" "$tmp/fpmdoctor" ./cmd/fpmdoctor
GOEXPERIMENT=$lean build "$repo" "$tmp/fpmdoctor-probe" ./cmd/fpmdoctor-probe
GOEXPERIMENT='' build "$repo" "$tmp/fpmdoctor-probe-defaultgc" ./cmd/fpmdoctor-probe
mkdir -p "$tmp/empty"
printf 'module empty\n\ngo 1.21\n' >"$tmp/empty/go.mod"
printf 'package main\n\nfunc main() {}\n' >"$tmp/empty/main.go"
GOEXPERIMENT='' build "$tmp/empty" "$tmp/empty-go" .
GOEXPERIMENT=nogreenteagc build "$tmp/empty" "$tmp/empty-go-nogreenteagc" .
if [ -n "${BEFORE:-}" ]; then
	mkdir -p "$tmp/before"
	(cd "$repo" && git archive "$BEFORE") | tar -x -C "$tmp/before"
	GOEXPERIMENT='' build "$tmp/before" "$tmp/fpmdoctor-before" ./cmd/fpmdoctor
	if [ -d "$tmp/before/cmd/fpmdoctor-probe" ]; then
		GOEXPERIMENT='' build "$tmp/before" "$tmp/fpmdoctor-probe-before" ./cmd/fpmdoctor-probe
	fi
fi
stat -c '    %s %n' "$tmp"/fpmdoctor* "$tmp"/empty-go*

# The cgi-fcgi healthcheck reads its request from the environment.
export SCRIPT_NAME=/ping SCRIPT_FILENAME=/ping REQUEST_METHOD=GET QUERY_STRING=
cgi_cmd="cgi-fcgi -bind -connect $sock"
args="unix:$sock --ping-path /ping"
names=(empty-go "empty-go nogreenteagc" cgi-fcgi sh+cgi-fcgi+grep "fpmdoctor probe self" "fpmdoctor probe auto" "fpmdoctor-probe self" "fpmdoctor-probe auto" "fpmdoctor-probe self, default GC")
cmds=("$tmp/empty-go" "$tmp/empty-go-nogreenteagc" "$cgi_cmd" "sh -c '$cgi_cmd | grep -q pong'"
	"$tmp/fpmdoctor probe $args --as-user self" "$tmp/fpmdoctor probe $args --as-user auto"
	"$tmp/fpmdoctor-probe $args --as-user self" "$tmp/fpmdoctor-probe $args --as-user auto"
	"$tmp/fpmdoctor-probe-defaultgc $args --as-user self")
ours=4 # the commands from here on are fpmdoctor's: checked in the sanity step
if [ -n "${BEFORE:-}" ]; then
	names+=("fpmdoctor probe self ($BEFORE)" "fpmdoctor probe auto ($BEFORE)")
	cmds+=("$tmp/fpmdoctor-before probe $args --as-user self" "$tmp/fpmdoctor-before probe $args --as-user auto")
	if [ -x "$tmp/fpmdoctor-probe-before" ]; then
		names+=("fpmdoctor-probe self ($BEFORE)")
		cmds+=("$tmp/fpmdoctor-probe-before $args --as-user self")
	fi
fi

echo "== sanity"
$cgi_cmd | grep -q pong || { echo "cgi-fcgi did not get pong" >&2; exit 1; }
for c in "${cmds[@]:$ours}"; do $c >/dev/null || { echo "failed: $c" >&2; exit 1; }; done
# $args is the probe's argument list: split into words on purpose.
# shellcheck disable=SC2086
"$tmp/fpmdoctor-probe" $args
# shellcheck disable=SC2086
who=$("$tmp/fpmdoctor-probe" $args --format json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("as_user") or "root (no nginx worker runs)")')
echo "   --as-user auto connects as: $who; $(find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' | wc -l) processes on this host"

echo "== process round trip: $rounds interleaved rounds of $runs runs each"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
	hf=()
	for i in "${!names[@]}"; do hf+=(-n "${names[$i]}" "${cmds[$i]}"); done
	hyperfine -N --warmup 20 --runs "$runs" --export-json "$tmp/r$r.json" "${hf[@]}" >/dev/null 2>&1
done
echo "   load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
# Minor page faults per process (rusage of 30 runs each, interleaved): on a
# VM where each costs tens of microseconds they are most of a start-up.
printf '%s\n' "${cmds[@]}" >"$tmp/cmds.txt"
python3 - "$tmp" "$rounds" <<'PY'
import json, os, shlex, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
cmds = [shlex.split(c) for c in open(f"{tmp}/cmds.txt").read().splitlines()]
null = os.open(os.devnull, os.O_WRONLY)
flt = [[] for _ in cmds]
for _ in range(30):
    for i, c in enumerate(cmds):
        pid = os.posix_spawnp(c[0], c, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
        flt[i].append(os.wait4(pid, 0)[2].ru_minflt)
res = {}
for r in range(1, rounds + 1):
    for x in json.load(open(f"{tmp}/r{r}.json"))["results"]:
        res.setdefault(x["command"], []).append(x)
mins = {n: min(x["min"] for x in xs) * 1e3 for n, xs in res.items()}
print(f"{'command':34} {'min ms':>7}   {'median ms, range over rounds':28} minor faults min/median")
for i, (n, xs) in enumerate(res.items()):
    meds = sorted(x["median"] * 1e3 for x in xs)
    print(f"{n:34} {mins[n]:7.2f}   {meds[0]:7.2f} – {meds[-1]:<17.2f} {min(flt[i]):5} / {statistics.median(flt[i]):.0f}")
print()
for ours in [n for n in res if "probe" in n]:
    print(f"{ours:34} min / cgi-fcgi: {mins[ours] / mins['cgi-fcgi']:.2f}   min / sh+cgi-fcgi+grep: {mins[ours] / mins['sh+cgi-fcgi+grep']:.2f}")
PY

echo "== in-process client round trip (connect, ping, close) against a lab php-fpm"
echo "   (what diagnose and a long-running exporter pay: no fork/exec; compare with cgi-fcgi's time above)"
(cd "$repo" && go test -run '^$' -bench BenchmarkRoundTrip -benchtime 3000x ./internal/fastcgi/)
