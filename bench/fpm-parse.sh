#!/usr/bin/env bash
# Side-by-side: how long php-fpm 8.2 takes to test (-t) a hosting-company
# configuration of 5,000 pools in 5,000 included files, and how long
# fpmconf.Load / fpmconf.Validate take on the same text
# (written by internal/fpmconf/bench_test.go, which the Go benchmarks use).
#
# Usage: bench/fpm-parse.sh [POOLS] [RUNS]   (run as root: php-fpm looks up user www-data)
set -euo pipefail

pools=${1:-5000}
runs=${2:-5}
fpm=${PHP_FPM:-/usr/sbin/php-fpm8.2}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/fpm-parse.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# The configuration is written by the same code as the Go benchmarks
# (internal/fpmconf/bench_test.go), run from the package's test binary.
(cd "$repo" && go test -c -o "$dir/fpmconf.test" ./internal/fpmconf)
(cd "$repo/internal/fpmconf" && "$dir/fpmconf.test" -test.run '^TestGenerateHosting$' -gen.dir "$dir" -gen.pools "$pools" >/dev/null)
rm "$dir/fpmconf.test"
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
