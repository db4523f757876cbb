#!/usr/bin/env bash
# Side-by-side: how long php-fpm 8.2 takes to test (-t) a hosting-company
# configuration of 5,000 pools in 5,000 included files, and how long
# fpmconf.Load / fpmconf.Validate take on the same text
# (internal/fpmconf/bench_test.go writes the identical pool template).
#
# Usage: bench/fpm-parse.sh [POOLS] [RUNS]   (run as root: php-fpm looks up user www-data)
set -euo pipefail

pools=${1:-5000}
runs=${2:-5}
fpm=${PHP_FPM:-/usr/sbin/php-fpm8.2}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/fpm-parse.XXXXXX)
trap 'rm -rf "$dir"' EXIT

mkdir -p "$dir/pool.d"
printf '[global]\nerror_log = %s/fpm.log\ninclude = %s/pool.d/*.conf\n' "$dir" "$dir" > "$dir/fpm.conf"
for ((i = 0; i < pools; i++)); do
	n=$(printf '%05d' "$i")
	cat > "$dir/pool.d/pool$n.conf" <<POOL
[pool$n]
user = www-data
group = www-data
listen = /run/fpmbench/\$pool.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
pm.max_requests = 500
request_terminate_timeout = 300
; per-customer PHP settings
php_admin_value[open_basedir] = /var/www/pool$n:/tmp
php_admin_value[upload_tmp_dir] = /var/www/pool$n/tmp
php_admin_flag[log_errors] = on
env[HOSTNAME] = \$HOSTNAME
POOL
done
echo "config: $pools pools, $(du -sh "$dir" | cut -f1) in $dir"

if [[ -x $fpm ]]; then
	"$fpm" -t -y "$dir/fpm.conf" --prefix "$dir" >/dev/null 2>&1 || {
		echo "php-fpm -t rejects the generated config:" >&2
		"$fpm" -t -y "$dir/fpm.conf" --prefix "$dir" 2>&1 | tail -3 >&2
		exit 1
	}
	best=
	for ((r = 0; r < runs; r++)); do
		start=$(date +%s%N)
		"$fpm" -t -y "$dir/fpm.conf" --prefix "$dir" >/dev/null 2>&1
		ms=$(( ($(date +%s%N) - start) / 1000000 ))
		echo "php-fpm -t run $((r + 1)): ${ms} ms"
		if [[ -z $best || $ms -lt $best ]]; then best=$ms; fi
	done
	echo "php-fpm -t best of $runs: ${best} ms"
else
	echo "php-fpm not found at $fpm; skipping its timing" >&2
fi

cd "$repo"
go test ./internal/fpmconf -run '^$' -bench '5000Pools$' -benchtime "${runs}x" -benchmem
