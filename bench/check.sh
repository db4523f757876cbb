#!/usr/bin/env bash
# Side-by-side wall time and peak memory of `fpmdoctor check` against
# `nginx -t` on the same tree, in one run: a repository of configs laid out
# unlike / (nginx/ and php/ mapped by fpmdoctor.yaml) with N sites (a file
# in sites-available and a link in sites-enabled, as on Debian) and N pools
# (default 5,000). nginx -t reads the same files through its prefix
# (-p REPO/nginx/): the includes are relative, so both resolve them to the
# repository. Needs Go, nginx, hyperfine and GNU time; no root. Usage:
#   bench/check.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
go build -o /tmp/fpmdoctor-bench-check ./cmd/fpmdoctor
FD=/tmp/fpmdoctor-bench-check
W=$(mktemp -d /tmp/fpmdoctor-bench-check.XXXXXX)
trap 'rm -rf "$W"' EXIT
R=$W/repo
# The repository is written by the same code as BenchmarkCheck5000
# (internal/repo/bench_test.go), run from the package's test binary.
go test -c -o "$W/repo.test" ./internal/repo
(cd internal/repo && "$W/repo.test" -test.run '^TestGenerateRepo$' -gen.dir "$R" -gen.sites "$N" >/dev/null)
nginx -t -q -p "$R/nginx/" -c nginx.conf
"$FD" check "$R" --format json | python3 -c 'import json,sys; r=json.load(sys.stdin); print("fpmdoctor check saw", len(r["sites"]), "sites;", len(r["findings"]), "findings")'
echo "== repository with $N sites and $N pools: fpmdoctor check vs nginx -t (same files)"
hyperfine -N -w 1 -r 5 --style basic --export-json "$W/times.json" \
  -n "fpmdoctor check" "$FD check $R" \
  -n "fpmdoctor check --format sarif" "$FD check $R --format sarif" \
  -n "nginx -t" "nginx -t -q -p $R/nginx/ -c nginx.conf" \
  2>&1 | grep -E 'Time|±|faster|fpmdoctor|nginx' || true
# The machine may be shared: CPU time (user+sys) is compared as well as
# wall time, each as a range over the runs.
python3 - "$W/times.json" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ng = res["nginx -t"]
for name in ("fpmdoctor check", "fpmdoctor check --format sarif"):
    r = res[name]
    print(f"{name} / nginx -t: wall {min(r['times'])/max(ng['times']):.2f}-{max(r['times'])/min(ng['times']):.2f} (means {r['mean']/ng['mean']:.2f}), "
          f"CPU user+sys means {(r['user']+r['system'])/(ng['user']+ng['system']):.2f}")
PY
echo "== peak memory (max RSS), 3 runs each"
for _ in 1 2 3; do
  /usr/bin/time -f 'fpmdoctor check: %M KB, %e s' "$FD" check "$R" >/dev/null || true
  /usr/bin/time -f 'nginx -t:        %M KB, %e s' nginx -t -q -p "$R/nginx/" -c nginx.conf || true
done
