#!/usr/bin/env bash
# Side-by-side wall time and peak memory of `fpmdoctor diagnose` against the
# servers' own config tests, measured in the same run:
#   1. a stock Debian host with one PHP site, nginx and php-fpm running
#      (live checks included): fpmdoctor vs `nginx -t` + `php-fpm8.2 -t`;
#   2. a generated host with N server blocks and N pools (default 5,000):
#      fpmdoctor vs `nginx -t` on the same config, first healthy (php-fpm
#      running, probes on), then with php-fpm stopped (one root cause for
#      N pools).
# Needs root, nginx, php8.2-fpm, hyperfine and GNU time. Usage:
#   sudo bench/diagnose.sh [N]          (N=0: part 1 only)
#   sudo BEFORE=main bench/diagnose.sh 0  (part 1 also times the binary
#                                          built from git ref main)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
go build -o /tmp/fpmdoctor-bench ./cmd/fpmdoctor
FD=/tmp/fpmdoctor-bench
FDB=
if [ -n "${BEFORE:-}" ]; then
  # The same build of another commit, from a clean export of its tree.
  src=$(mktemp -d /tmp/fpmdoctor-before.XXXXXX)
  git archive "$BEFORE" | tar -x -C "$src"
  (cd "$src" && go build -o /tmp/fpmdoctor-bench-before ./cmd/fpmdoctor)
  rm -rf "$src"
  FDB=/tmp/fpmdoctor-bench-before
fi
W=$(mktemp -d /tmp/fpmdoctor-bench.XXXXXX)
chmod 755 "$W"
cleanup() {
  local pid
  for pid in "$W/one/run/nginx.pid" "$W/one/run/php-fpm.pid"; do
    if [ -f "$pid" ]; then kill -QUIT "$(cat "$pid")" 2>/dev/null || true; fi
  done
  sleep 0.2; rm -rf "$W"
}
trap cleanup EXIT

# 1. Stock Debian configs, moved into a prefix, with one PHP site.
O=$W/one; mkdir -p "$O"/{run,log,www,conf.d,pool.d,tmp}
sed -e "s#/run/nginx.pid#$O/run/nginx.pid#" -e "s#/var/log/nginx/#$O/log/#g" \
    -e "s#include /etc/nginx/conf.d/\*.conf;#include $O/conf.d/*.conf;#" \
    -e "s#include /etc/nginx/sites-enabled/\*;##" -e "s#include /etc/nginx/modules-enabled/\*.conf;##" \
    /etc/nginx/nginx.conf > "$O/nginx.conf"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > "$O/conf.d/site.conf" <<SITE
server {
    listen 127.0.0.1:$PORT;
    server_name example.com;
    root $O/www;
    index index.php;
    location ~ \.php\$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass unix:$O/run/php8.2-fpm.sock;
    }
}
SITE
sed -e "s#^pid = .*#pid = $O/run/php-fpm.pid#" -e "s#^error_log = .*#error_log = $O/log/php-fpm.log#" \
    -e "s#^include=.*#include=$O/pool.d/*.conf#" /etc/php/8.2/fpm/php-fpm.conf > "$O/php-fpm.conf"
sed -e "s#^listen = .*#listen = $O/run/php8.2-fpm.sock#" /etc/php/8.2/fpm/pool.d/www.conf > "$O/pool.d/www.conf"
echo '<?php echo "ok";' > "$O/www/index.php"
cp -r /etc/nginx/snippets /etc/nginx/fastcgi.conf "$O/"
/usr/sbin/php-fpm8.2 --fpm-config "$O/php-fpm.conf" --prefix "$O"
nginx -c "$O/nginx.conf" -p "$O/"
sleep 0.3
curl -s -o /dev/null -w 'stock host: GET /index.php -> %{http_code}\n' "http://127.0.0.1:$PORT/index.php"
echo "== stock Debian host, one site (live): fpmdoctor diagnose vs nginx -t + php-fpm8.2 -t"
before=()
[ -n "$FDB" ] && before=(-n "fpmdoctor diagnose ($BEFORE)" "$FDB diagnose --nginx-conf $O/nginx.conf --fpm-conf $O/php-fpm.conf")
hyperfine -N -w 3 -r 30 --style basic \
  -n "fpmdoctor diagnose" "$FD diagnose --nginx-conf $O/nginx.conf --fpm-conf $O/php-fpm.conf" \
  "${before[@]}" \
  -n "nginx -t + php-fpm8.2 -t" "bash -c 'nginx -t -q -c $O/nginx.conf -p $O/ && /usr/sbin/php-fpm8.2 -t -y $O/php-fpm.conf --prefix $O 2>/dev/null'" \
  2>&1 | grep -E 'Time|Range|±|faster|fpmdoctor|nginx' || true
[ "$N" -gt 0 ] || exit 0

# 2. A hosting company: N vhosts in sites-enabled, N pools in pool.d.
G=$W/gen; mkdir -p "$G"/{sites,pools,run,log,tmp}
cat > "$G/nginx.conf" <<CONF
user www-data;
worker_processes 1;
pid $G/run/nginx.pid;
error_log $G/log/error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    include $G/sites/*.conf;
}
CONF
printf '[global]\npid = %s/run/fpm.pid\nerror_log = %s/log/fpm.log\ninclude = %s/pools/*.conf\n' "$G" "$G" "$G" > "$G/php-fpm.conf"
python3 - "$G" "$N" <<'PY'
import sys, os
g, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{g}/sites/site{i:05d}.conf", "w") as f:
        f.write(f"""server {{
    listen 127.0.0.1:8080;
    server_name site{i}.example.com www.site{i}.example.com;
    root /var/www/site{i}/public;
    index index.php index.html;
    access_log off;
    location / {{
        try_files $uri $uri/ /index.php?$args;
    }}
    location ~ \\.php$ {{
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_read_timeout 120s;
        fastcgi_pass unix:{g}/run/site{i}.sock;
    }}
}}
""")
    with open(f"{g}/pools/site{i:05d}.conf", "w") as f:
        f.write(f"""[site{i}]
user = www-data
group = www-data
listen = {g}/run/$pool.sock
listen.owner = www-data
listen.group = www-data
pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
php_admin_value[memory_limit] = 128M
""")
PY
# php-fpm runs the N ondemand pools (sockets, no idle workers), as on a
# hosting host: the diagnosis is of a healthy host, not of N "down" pools.
/usr/sbin/php-fpm8.2 --fpm-config "$G/php-fpm.conf" --prefix "$G"
trap '{ [ -f "$G/run/fpm.pid" ] && kill -QUIT "$(cat "$G/run/fpm.pid")"; } 2>/dev/null || true; cleanup' EXIT
echo "== generated host: $N server blocks, $N pools (php-fpm running): fpmdoctor diagnose vs nginx -t (same config)"
hyperfine -N -w 2 -r 10 --style basic -i \
  -n "fpmdoctor diagnose --no-probe" "$FD diagnose --nginx-conf $G/nginx.conf --fpm-conf $G/php-fpm.conf --no-probe" \
  -n "fpmdoctor diagnose" "$FD diagnose --nginx-conf $G/nginx.conf --fpm-conf $G/php-fpm.conf" \
  -n "nginx -t" "nginx -t -q -c $G/nginx.conf -p $G/" \
  2>&1 | grep -E 'Time|±|faster|fpmdoctor|nginx' || true
echo "== peak memory (max RSS), 3 runs each"
for _ in 1 2 3; do
  /usr/bin/time -f 'fpmdoctor diagnose: %M KB, %e s' "$FD" diagnose --nginx-conf "$G/nginx.conf" --fpm-conf "$G/php-fpm.conf" >/dev/null || true
  /usr/bin/time -f 'nginx -t:           %M KB, %e s' nginx -t -q -c "$G/nginx.conf" -p "$G/" || true
done
"$FD" diagnose --nginx-conf "$G/nginx.conf" --fpm-conf "$G/php-fpm.conf" --format json | python3 -c 'import json,sys; r=json.load(sys.stdin); print("fpmdoctor saw", len(r["sites"]), "sites;", len(r["findings"]), "findings")' || true
echo "== size of --format json on the healthy host"
"$FD" diagnose --nginx-conf "$G/nginx.conf" --fpm-conf "$G/php-fpm.conf" --format json | wc -c | sed 's/$/ bytes/'

# The same host with php-fpm stopped: every pool is down, one root cause.
kill -QUIT "$(cat "$G/run/fpm.pid")"; sleep 0.5
echo "== generated host, php-fpm STOPPED: fpmdoctor diagnose vs nginx -t (same config)"
hyperfine -N -w 2 -r 10 --style basic -i \
  -n "fpmdoctor diagnose (php-fpm down)" "$FD diagnose --nginx-conf $G/nginx.conf --fpm-conf $G/php-fpm.conf" \
  -n "nginx -t" "nginx -t -q -c $G/nginx.conf -p $G/" \
  2>&1 | grep -E 'Time|±|faster|fpmdoctor|nginx' || true
echo "== peak memory (max RSS), php-fpm down, 3 runs each"
for _ in 1 2 3; do
  /usr/bin/time -f 'fpmdoctor diagnose: %M KB, %e s' "$FD" diagnose --nginx-conf "$G/nginx.conf" --fpm-conf "$G/php-fpm.conf" >/dev/null || true
  /usr/bin/time -f 'nginx -t:           %M KB, %e s' nginx -t -q -c "$G/nginx.conf" -p "$G/" || true
done
"$FD" diagnose --nginx-conf "$G/nginx.conf" --fpm-conf "$G/php-fpm.conf" --format json | python3 -c 'import json,sys; r=json.load(sys.stdin); print("php-fpm down:", len(r["findings"]), "findings:", sorted(set(f["cause"] for f in r["findings"])))' || true
