#!/bin/sh
# Compare our nginx config parser with nginx's own on a generated hosting
# configuration: 5,000 server blocks, one file each in sites-enabled/, each
# with a PHP location including Debian's fastcgi snippet.
#
#   bench/nginx-parse.sh [servers]
#
# Prints: nginx -t wall time and peak RSS, our Load+Model wall time and peak
# RSS in a fresh process, and `go test -bench BenchmarkLoad5000`.
set -eu
n=${1:-5000}
repo=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/conf"

cd "$repo/internal/nginxconf"
go test -c -o "$work/nginxconf.test" . >/dev/null
(cd "$repo/internal/nginxconf" && "$work/nginxconf.test" -test.run '^TestGenerateHosting$' -gen.dir "$work/conf" -gen.servers "$n" >/dev/null)
main="$work/conf/nginx.conf"
echo "config: $main ($(find "$work/conf/sites-enabled" -mindepth 1 -maxdepth 1 | wc -l) site files)"

if [ -x "$nginx" ]; then
	"$nginx" -t -q -c "$main" -p "$work/conf/" # warm the page cache, fail early
	echo "--- nginx -t (5 runs)"
	for _ in 1 2 3 4 5; do
		/usr/bin/time -f "nginx -t: %e s wall, %M KiB peak RSS" "$nginx" -t -q -c "$main" -p "$work/conf/"
	done
else
	echo "nginx not found at $nginx: skipping nginx -t"
fi

echo "--- fpmdoctor Load+Model, fresh process (5 runs)"
for _ in 1 2 3 4 5; do
	NGINXCONF_BENCH_CONF="$main" "$work/nginxconf.test" -test.run '^TestBenchOnce$' | grep '^fpmdoctor'
done

if [ "$n" = 5000 ]; then
	echo "--- go test -bench BenchmarkLoad5000"
	NGINXCONF_BENCH_CONF="$main" "$work/nginxconf.test" -test.run '^$' -test.bench BenchmarkLoad5000 -test.benchtime 10x | grep Benchmark
fi
