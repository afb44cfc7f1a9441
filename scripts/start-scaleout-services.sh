#!/usr/bin/env bash
# Starts a throwaway Redis and PostgreSQL on loopback for the scale-out tests and the load
# benchmark, and prints the variables that point them there:
#
#   eval "$(bash scripts/start-scaleout-services.sh)"
#
# Needs Debian's redis-server and postgresql packages (nothing is installed here). Both servers
# keep their files under one temporary folder and live until the machine or session ends; the
# printed STEADYTUNE_SCALEOUT_STOP command stops them earlier. PostgreSQL refuses to run as
# root, so as root it runs as the postgres user.
#
# Throwaway, but restartable: Redis runs with the persistence deploy/README.md requires of
# production (append-only file, fsync every second, no eviction), so a test that restarts Redis
# or PostgreSQL mid-job finds the queue, the event logs and the store as they were. What is not
# production-grade: PostgreSQL skips fsync and full-page writes (speed), so a crash of the
# machine, unlike a restart of the server, may lose or corrupt its data; and the folder is
# temporary.
set -euo pipefail

log() { echo "start-scaleout-services: $*" >&2; }

free_port() {
  node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

pg_bin=""
for candidate in /usr/lib/postgresql/*/bin; do
  if [ -x "$candidate/initdb" ]; then pg_bin="$candidate"; fi
done
if [ -z "$pg_bin" ]; then log "PostgreSQL's initdb not found (apt-get install postgresql)"; exit 1; fi
if ! command -v redis-server >/dev/null; then log "redis-server not found (apt-get install redis-server)"; exit 1; fi

root="$(mktemp -d -t steadytune-scaleout-XXXXXX)"
chmod 755 "$root"

redis_port="$(free_port)"
# Persistence as deploy/README.md requires (checked by test/unit/deploy-redis-persistence.spec.ts).
redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly yes --appendfsync everysec \
  --maxmemory-policy noeviction --save '' --daemonize yes \
  --dir "$root" --pidfile "$root/redis.pid" --logfile "$root/redis.log" >&2
for _ in $(seq 1 50); do
  if redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then break; fi
  sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || { log "redis did not start: $(cat "$root/redis.log")"; exit 1; }

as_pg_user=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg_user=(runuser -u postgres --)
  mkdir -p "$root/pg"
  chown postgres "$root/pg"
else
  mkdir -p "$root/pg"
fi
pg_port="$(free_port)"
"${as_pg_user[@]}" "$pg_bin/initdb" -D "$root/pg/data" -U postgres -A trust --no-sync >"$root/pg/initdb.log" 2>&1 \
  || { log "initdb failed: $(cat "$root/pg/initdb.log")"; exit 1; }
"${as_pg_user[@]}" "$pg_bin/pg_ctl" -D "$root/pg/data" -l "$root/pg/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $root/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >&2 || { log "PostgreSQL did not start: $(cat "$root/pg/server.log")"; exit 1; }

log "redis on 127.0.0.1:$redis_port, PostgreSQL on 127.0.0.1:$pg_port, files in $root"
echo "export STEADYTUNE_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0"
echo "export STEADYTUNE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
echo "export STEADYTUNE_SCALEOUT_STOP='redis-cli -p $redis_port shutdown nosave; ${as_pg_user[*]} $pg_bin/pg_ctl -D $root/pg/data -m fast stop'"
