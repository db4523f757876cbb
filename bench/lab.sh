#!/usr/bin/env bash
# bench/lab.sh: how long `fpmdoctor lab` takes on the one-site stock
# Debian layout to be up and answered, next to the same servers started by
# hand on the same copy, in one run.
#
#   sudo bench/lab.sh [RUNS]        (default 5)
#
# Needs root, nginx, php-fpm8.2, curl and Go. Per run it measures
#   1. fpmdoctor lab --root TREE --format json: its own phase timings
#      (up and answered = copy + start + answer) and the whole command's
#      wall time (diagnosis and stop included);
#   2. by hand, on a copy left by `lab --keep` whose servers were stopped:
#      php-fpm --daemonize, nginx, one curl through nginx: the floor any
#      tool starting these servers has.
# and prints min / median / max of each. Runs alternate, so the machine's
# load hits both alike. Everything is removed on exit.
set -euo pipefail

runs=${1:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
tree=$repo/internal/rehearse/testdata/stock

[ "$(id -u)" = 0 ] || { echo "bench/lab.sh: needs root" >&2; exit 2; }
for bin in go curl python3 /usr/sbin/nginx /usr/sbin/php-fpm8.2; do
	command -v "$bin" >/dev/null || { echo "bench/lab.sh: $bin not found" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/fpmdoctor-labbench-XXXXXX)
chmod 755 "$tmp"
trap '[ -d "$tmp/keep" ] && "$tmp/fpmdoctor" lab stop "$tmp/keep" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$tmp/fpmdoctor" ./cmd/fpmdoctor)

ms() { date +%s%N | cut -c1-13; }

up=() whole=() hand=()
for _ in $(seq "$runs"); do
	t0=$(ms)
	"$tmp/fpmdoctor" lab --root "$tree" --format json >"$tmp/out.json"
	t1=$(ms)
	whole+=($((t1 - t0)))
	up+=("$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["timings_ms"]; assert [s["status"] for s in d["sites"]]==[200], d["sites"]; print(t["copy"]+t["start"]+t["answer"])' "$tmp/out.json")")

	# The same copy, servers started by hand.
	"$tmp/fpmdoctor" lab --root "$tree" --keep --dir "$tmp/keep" --format json >"$tmp/keep.json"
	read -r url host < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sites"][0]; print(s["url"], s["host"])' "$tmp/keep.json")
	for p in "$tmp"/keep/run/*.pid; do kill -QUIT "$(cat "$p")"; done
	while pgrep -f "$tmp/keep/" >/dev/null; do sleep 0.05; done
	rm -f "$tmp"/keep/run/*.pid
	cd "$tmp/keep"
	conf=$(ls root/etc/php/8.2/fpm/php-fpm.conf)
	t0=$(ms)
	/usr/sbin/php-fpm8.2 --fpm-config "$conf" --prefix "$tmp/keep/root/usr" --pid "$tmp/keep/run/php-fpm-0.pid" --daemonize
	/usr/sbin/nginx -p "$tmp/keep/root/usr/share/nginx/" -c "$tmp/keep/root/etc/nginx/nginx.conf" -e "$tmp/keep/log/nginx-startup.log"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" "$url")
	t1=$(ms)
	cd "$repo"
	[ "$code" = 200 ] || { echo "bench/lab.sh: by hand: status $code" >&2; exit 1; }
	hand+=($((t1 - t0)))
	"$tmp/fpmdoctor" lab stop "$tmp/keep"
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %5d  median %5d  max %5d ms", a[1], a[int((NR+1)/2)], a[NR]}'; }
echo "one-site stock layout, $runs runs; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fpmdoctor lab, up and answered:     $(stats "${up[@]}")"
echo "fpmdoctor lab, whole command:       $(stats "${whole[@]}")   (diagnosis and stop included)"
echo "by hand: php-fpm + nginx + curl:    $(stats "${hand[@]}")"
