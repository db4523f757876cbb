#!/usr/bin/env bash
# Side-by-side wall time and peak memory of `fpmdoctor check` against
# `nginx -t` on the same tree, in one run: a repository of configs laid out
# unlike / (nginx/ and php/ mapped by fpmdoctor.yaml) with N sites (a file
# in sites-available and a link in sites-enabled, as on Debian) and N pools
# (default 5,000). nginx -t reads the same files through its prefix
# (-p REPO/nginx/): the includes are relative, so both resolve them to the
# repository. Needs nginx, hyperfine and GNU time; no root. Usage:
#   bench/check.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
go build -o /tmp/fpmdoctor-bench-check ./cmd/fpmdoctor
FD=/tmp/fpmdoctor-bench-check
W=$(mktemp -d /tmp/fpmdoctor-bench-check.XXXXXX)
trap 'rm -rf "$W"' EXIT
R=$W/repo
mkdir -p "$R"/nginx/{sites-available,sites-enabled} "$R"/php/pool.d
cp /etc/nginx/fastcgi_params /etc/nginx/mime.types "$R/nginx/"
cat > "$R/fpmdoctor.yaml" <<'YAML'
map:
  nginx/: /etc/nginx
  php/: /etc/php/8.2/fpm
YAML
cat > "$R/nginx/nginx.conf" <<CONF
user www-data;
worker_processes 1;
pid $W/nginx.pid;
error_log $W/error.log;
events { worker_connections 64; }
http {
    include mime.types;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    include sites-enabled/*;
}
CONF
printf '[global]\npid = /run/php/php8.2-fpm.pid\nerror_log = /var/log/php8.2-fpm.log\ninclude = /etc/php/8.2/fpm/pool.d/*.conf\n' > "$R/php/php-fpm.conf"
python3 - "$R" "$N" <<'PY'
import sys, os
r, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    name = f"site{i:05d}.example.com"
    with open(f"{r}/nginx/sites-available/{name}", "w") as f:
        f.write(f"""server {{
    listen 127.0.0.1:8080;
    server_name {name} www.{name};
    root /var/www/{name}/public;
    index index.php index.html;
    access_log off;
    location / {{
        try_files $uri $uri/ /index.php?$args;
    }}
    location ~ \\.php$ {{
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_read_timeout 120s;
        fastcgi_pass unix:/run/php/php8.2-fpm-site{i:05d}.sock;
    }}
}}
""")
    os.symlink(f"../sites-available/{name}", f"{r}/nginx/sites-enabled/{name}")
    with open(f"{r}/php/pool.d/site{i:05d}.conf", "w") as f:
        f.write(f"""[site{i:05d}]
user = www-data
group = www-data
listen = /run/php/php8.2-fpm-$pool.sock
listen.owner = www-data
listen.group = www-data
pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
request_terminate_timeout = 300s
php_admin_value[memory_limit] = 128M
""")
PY
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
for i in 1 2 3; do
  /usr/bin/time -f 'fpmdoctor check: %M KB, %e s' "$FD" check "$R" >/dev/null || true
  /usr/bin/time -f 'nginx -t:        %M KB, %e s' nginx -t -q -p "$R/nginx/" -c nginx.conf || true
done
