#!/usr/bin/env bash
# bench/startup.sh: what each import costs a fresh process before main runs.
#
#   bench/startup.sh [RUNS]        (default 300 runs per program)
#
# Builds one tiny static program per package (`import _ "PKG"; func
# main() {}`, CGO_ENABLED=0, -trimpath -ldflags='-s -w'), plus the real
# binaries, and measures each as a whole process with hyperfine -N, in
# interleaved rounds so load on a shared machine hits all of them alike.
# Prints per program: binary size, minor page faults (GNU time), the sum
# of package init times (GODEBUG=inittrace=1, least of 20 runs) and the
# min / median wall time over the rounds; the last column is min minus the
# empty program's min, the import's cost. Needs Go and hyperfine; GNU time is optional.
set -euo pipefail

runs=${1:-300}
rounds=${ROUNDS:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v hyperfine >/dev/null || { echo "bench/startup.sh: hyperfine not found" >&2; exit 2; }

pkgs=(
	fmt os flag encoding/json encoding/xml crypto/rand net net/http
	github.com/spf13/pflag github.com/spf13/cobra github.com/prometheus/procfs
	github.com/coreos/go-systemd/v22/dbus github.com/aymanbagabas/go-udiff
	github.com/prometheus/client_golang/prometheus/promhttp
	./internal/fastcgi ./internal/probe ./internal/probe/probecli ./internal/host
	./internal/fpmconf ./internal/nginxconf ./internal/logscan ./internal/report
	./internal/checks ./internal/snapshot ./internal/fix
)

# The programs live in a directory inside the module so they can import
# internal packages; it is removed on exit.
src=$(mktemp -d "$repo/.startup-XXXXXX")
out=$(mktemp -d /tmp/fpmstartup-XXXXXX)
trap 'rm -rf "$src" "$out"' EXIT

build() { # name dir
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/$1" "$2")
}
mkdir -p "$src/empty"
printf 'package main\n\nfunc main() {}\n' >"$src/empty/main.go"
build empty "./$(basename "$src")/empty"
names=(empty)
for p in "${pkgs[@]}"; do
	imp=$p
	[[ $p == ./* ]] && imp=github.com/fpmdoctor/fpmdoctor/${p#./}
	(cd "$repo" && go list "$imp" >/dev/null 2>&1) || { echo "skip $p (not in this tree)" >&2; continue; }
	n=$(echo "${p#./}" | tr '/.' '__')
	mkdir -p "$src/$n"
	printf 'package main\n\nimport _ "%s"\n\nfunc main() {}\n' "$imp" >"$src/$n/main.go"
	build "$n" "./$(basename "$src")/$n"
	names+=("$n")
done
# The real binaries, run as the cheapest real command each can do.
build fpmdoctor ./cmd/fpmdoctor
names+=(fpmdoctor)
real=("$out/fpmdoctor --help")
if [ -d "$repo/cmd/fpmdoctor-probe" ]; then
	build fpmdoctor-probe ./cmd/fpmdoctor-probe
	names+=(fpmdoctor-probe)
	real+=("$out/fpmdoctor-probe --help")
fi

cmdline() { # name
	case $1 in
	fpmdoctor) echo "${real[0]}" ;;
	fpmdoctor-probe) echo "${real[1]}" ;;
	*) echo "$out/$1" ;;
	esac
}

for r in $(seq "$rounds"); do
	args=()
	for n in "${names[@]}"; do args+=(-n "$n" "$(cmdline "$n")"); done
	hyperfine -N --warmup 10 --runs "$runs" --export-json "$out/r$r.json" "${args[@]}" >/dev/null 2>&1
done

for n in "${names[@]}"; do
	c=$(cmdline "$n")
	size=$(stat -c %s "$out/$n")
	faults=-
	if [ -x /usr/bin/time ]; then
		# $c is a command line: split into words on purpose.
		# shellcheck disable=SC2086
		faults=$(/usr/bin/time -f %R $c 2>&1 >/dev/null | tail -1)
	fi
	# The least of 20 runs: a descheduled process inflates any one trace.
	init=$(for _ in $(seq 20); do GODEBUG=inittrace=1 $c 2>&1 >/dev/null | awk '/^init /{s+=$5} END {printf "%.3f\n", s}'; done | sort -n | head -1)
	echo "$n $size $faults $init"
done >"$out/static.txt"

python3 - "$out" "$rounds" <<'PY'
import json, sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for r in range(1, rounds + 1):
    for x in json.load(open(f"{out}/r{r}.json"))["results"]:
        times.setdefault(x["command"], []).append(x)
print(f"{'program':40} {'size':>6} {'faults':>6} {'init ms':>7} {'min ms':>7} {'median ms (range over rounds)':>30}")
base = None
for line in open(f"{out}/static.txt"):
    n, size, faults, init = line.split()
    xs = times[n]
    mn = min(x["min"] for x in xs) * 1e3
    meds = sorted(x["median"] * 1e3 for x in xs)
    if base is None:
        base = mn
    print(f"{n[:40]:40} {int(size)/2**20:5.1f}M {faults:>6} {init:>7} {mn:7.2f} {meds[0]:10.2f}–{meds[-1]:.2f}  (+{mn-base:.2f})")
PY
