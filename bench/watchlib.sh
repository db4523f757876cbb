# shellcheck shell=bash
# Helpers shared by bench/watch.sh and bench/soak.sh (sourced, not run).

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# make_host DIR N: nginx with N server blocks, php-fpm with N pools (pm
# static, one worker each, status page on), all under DIR.
make_host() {
  local d=$1 n=$2 i
  mkdir -p "$d"/{run,log,www,sites,pools,tmp}
  # PHP source, written as is: \n is PHP's, $_GET is not the shell's.
  # shellcheck disable=SC2016
  printf '%s\n' '<?php usleep((int)((isset($_GET["s"]) ? (float)$_GET["s"] : 1) * 1e6)); echo "slept\n";' > "$d/www/sleep.php"
  printf '%s\n' '<?php echo "ok\n";' > "$d/www/ok.php"
  HTTP_PORT=$(free_port)
  cat > "$d/nginx.conf" <<CONF
user www-data;
worker_processes 1;
pid $d/run/nginx.pid;
error_log $d/log/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    fastcgi_temp_path $d/tmp/fastcgi;
    proxy_temp_path $d/tmp/proxy;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    include $d/sites/*.conf;
}
CONF
  cat > "$d/php-fpm.conf" <<CONF
[global]
pid = $d/run/php-fpm.pid
error_log = $d/log/php-fpm.log
daemonize = yes
include = $d/pools/*.conf
CONF
  for i in $(seq 1 "$n"); do
    cat > "$d/sites/site$i.conf" <<SITE
server {
    listen 127.0.0.1:$HTTP_PORT;
    server_name site$i.test;
    root $d/www;
    location ~ \.php\$ {
        include /etc/nginx/fastcgi.conf;
        fastcgi_read_timeout 300s;
        fastcgi_pass unix:$d/run/site$i.sock;
    }
}
SITE
    cat > "$d/pools/site$i.conf" <<POOL
[site$i]
user = www-data
group = www-data
listen = $d/run/site$i.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 1
pm.status_path = /status
POOL
  done
}

start_host() {
  local d=$1
  /usr/sbin/php-fpm8.2 --fpm-config "$d/php-fpm.conf" --prefix "$d"
  nginx -c "$d/nginx.conf" -p "$d/"
  sleep 1
}

wait_ready() {
  local port=$1 i
  for i in $(seq 1 600); do
    curl -sf "127.0.0.1:$port/api/findings" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "watch did not answer /api/findings within 60 s" >&2
  return 1
}

# saturate DIR N SECONDS: one sleeping request per pool, in the background.
saturate() {
  local d=$1 n=$2 s=$3 i
  for i in $(seq 1 "$n"); do
    curl -s -o /dev/null -m $((s + 10)) -H "Host: site$i.test" "http://127.0.0.1:$HTTP_PORT/sleep.php?s=$s" &
  done
}

# scrape_latency PORT R: R sequential scrapes; prints p50, p99 and max.
scrape_latency() {
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
port, r = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(r):
    t = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        n = len(resp.read())
    ts.append(time.perf_counter() - t)
ts.sort()
q = lambda p: ts[min(len(ts) - 1, int(p * len(ts)))] * 1000
print(f"   {r} scrapes of {n} bytes: p50 {q(.5):.1f} ms, p99 {q(.99):.1f} ms, max {ts[-1]*1000:.1f} ms")
PY
}

# pools_up PORT: "SERIES DOWN": how many phpfpm_up series the watcher
# exports (one per pool it found) and how many of them are 0.
pools_up() {
  curl -s "127.0.0.1:$1/metrics" | awk '/^phpfpm_up\{/ {n++; if ($NF == 0) d++} END {printf "%d %d\n", n, d}'
}

# wait_pools PORT N DOWN SECONDS: waits until the watcher exports N
# phpfpm_up series, DOWN of them 0, and prints how long that took (ms). The
# watcher reads each pool every --pool-interval (10 s), a read of a
# saturated pool ends at --pool-timeout (2 s), 16 reads at a time: a
# pool's up changes only at its next read, not when it saturates.
wait_pools() {
  local port=$1 n=$2 down=$3 end=$((SECONDS + $4)) t0 got
  t0=$(date +%s%N)
  while got=$(pools_up "$port"); [ "$got" != "$n $down" ]; do
    if [ "$SECONDS" -ge "$end" ]; then
      echo "after $4 s the watcher exports ${got% *} phpfpm_up series, ${got#* } of them 0; want $n, $down of them 0" >&2
      return 1
    fi
    sleep 0.2
  done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}

failures() {
  curl -s "127.0.0.1:$1/metrics" | awk '/^fpmdoctor_upstream_failures_total/ {s += $NF} END {printf "%d", s}'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# write_lines DIR N RATE SECONDS [ROTATE_AT...]: append RATE nginx 502
# lines a second to DIR's nginx error log, naming the N pools' sockets in
# turn. ROTATE is an env list "T:rename T:copytruncate" of rotations at
# second T (rename + USR1 to nginx; copy + truncate).
write_lines() {
  python3 - "$@" <<'PY'
import os, sys, time, shutil, signal
d, n, rate, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rot = {}
for spec in os.environ.get("ROTATE", "").split():
    t, how = spec.split(":")
    rot[int(t)] = how
log = f"{d}/log/nginx-error.log"
tick = 0.01
per = rate * tick
start = time.monotonic()
written, due, k = 0, 0.0, 0
second = -1
while True:
    now = time.monotonic() - start
    if now >= secs:
        break
    s = int(now)
    if s != second:
        second = s
        how = rot.pop(s, None)
        if how == "rename":
            os.rename(log, log + ".1")
            os.kill(int(open(f"{d}/run/nginx.pid").read()), signal.SIGUSR1)
            for _ in range(200):
                if os.path.exists(log):
                    break
                time.sleep(0.005)
        elif how == "copytruncate":
            shutil.copyfile(log, log + ".2")
            os.truncate(log, 0)
    due += per
    lines = []
    while due >= 1:
        due -= 1
        k += 1
        i = k % n + 1
        ts = time.strftime("%Y/%m/%d %H:%M:%S")
        lines.append(f'{ts} [error] 4242#4242: *{k} connect() failed (111: Connection refused) while connecting to upstream, '
                     f'client: 127.0.0.1, server: site{i}.test, request: "GET /x.php HTTP/1.1", '
                     f'upstream: "fastcgi://unix:{d}/run/site{i}.sock:", host: "site{i}.test"\n')
    if lines:
        with open(log, "a") as f:
            f.write("".join(lines))
        written += len(lines)
    time.sleep(max(0, tick - ((time.monotonic() - start) - now)))
print(f"   wrote {written} lines in {secs} s", file=sys.stderr)
PY
}

# watch_host NAME POOLS: builds fpmdoctor and fpmdoctor-watch, makes a host
# of POOLS pools and server blocks in a new directory W, starts its servers
# and `fpmdoctor watch` on a free port, and removes everything on exit.
# Sets FD, W, PORT, WPID and PIDS (processes to kill at exit).
watch_host() {
  mkdir -p "/tmp/fpmdoctor-$1.d"
  go build -o "/tmp/fpmdoctor-$1.d/" ./cmd/fpmdoctor ./cmd/fpmdoctor-watch
  FD=/tmp/fpmdoctor-$1.d/fpmdoctor
  W=$(mktemp -d "/tmp/fpmdoctor-$1.XXXXXX")
  chmod 755 "$W"
  PIDS=()
  trap watch_host_cleanup EXIT
  make_host "$W" "$2"
  start_host "$W"
  PORT=$(free_port)
  "$FD" watch --listen "127.0.0.1:$PORT" --nginx-conf "$W/nginx.conf" --fpm-conf "$W/php-fpm.conf" \
    --log.level warn 2>"$W/watch.log" &
  WPID=$!; PIDS+=("$WPID")
  wait_ready "$PORT"
}

watch_host_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$W/run/nginx.pid" ]; then kill -QUIT "$(cat "$W/run/nginx.pid")" 2>/dev/null || true; fi
  if [ -f "$W/run/php-fpm.pid" ]; then kill -QUIT "$(cat "$W/run/php-fpm.pid")" 2>/dev/null || true; fi
  sleep 0.5; rm -rf "$W"
}
