#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster on a free port (installed with apt-get when missing).
# Exports TEST_DATABASE_URL (a superuser on a fresh database: the tests create one database per app from a
# migrated template); the cluster and its files are removed afterwards. Durability is off: test data only.
set -euo pipefail

if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi

pg_bindir() {
  # Debian keeps the server binaries out of PATH, one directory per major version: take the newest.
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bindir=$(pg_bindir)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL not found: installing it with apt-get" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  bindir=$(pg_bindir)
fi

# The server refuses to run as root: as root, run it as the `postgres` system user (created when missing).
as_owner=()
if [ "$(id -u)" = "0" ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  as_owner=(runuser -u postgres --)
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
workdir=$(mktemp -d)
chmod 755 "$workdir"
[ "${#as_owner[@]}" -eq 0 ] || chown postgres: "$workdir"
data="$workdir/data"
cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$workdir/initdb.log" 2>&1 \
  || { echo "initdb failed:" >&2; cat "$workdir/initdb.log" >&2; exit 1; }
# Sockets in the work directory, TCP on localhost only; a test cluster skips fsync and full-page writes.
options="-p $port -k $workdir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB"
if [ "${PG_DURABLE:-0}" != "1" ]; then
  options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
"${as_owner[@]}" "$bindir/pg_ctl" -D "$data" -l "$workdir/postgres.log" -w -t 60 start -o "$options" >/dev/null \
  || { echo "postgres did not start:" >&2; cat "$workdir/postgres.log" >&2; exit 1; }

"$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
  -c "CREATE DATABASE planogram_test" >/dev/null

export TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:${port}/planogram_test"
echo "Throwaway PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on ${TEST_DATABASE_URL}" >&2
"$@"
