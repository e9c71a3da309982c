#!/usr/bin/env bash
# Runs the whole test suite: gofmt and go vet, then go test -race on SQLite and on a
# throwaway PostgreSQL on 127.0.0.1 (installed from Debian's packages when
# missing and we are root). Stops what it starts, also on failure.
# Extra arguments go to go test (for example: scripts/test.sh -run Upsert).
set -euo pipefail
cd "$(dirname "$0")/.."

PGPORT=${PGPORT:-54329}
PGDATA=""
PGBIN=""

stop_pg() {
  if [ -n "$PGDATA" ] && [ -n "$PGBIN" ]; then
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    else
      "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PGDATA"
  fi
}
trap stop_pg EXIT

# Install what is missing from Debian's packages when we can (root with apt):
# PostgreSQL for the store tests, a C compiler for the race detector.
missing=()
if [ -z "${NURTURE_TEST_POSTGRES:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ! command -v "$(go env CC)" >/dev/null 2>&1; then
  missing+=(gcc libc6-dev)
fi
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing from Debian's packages: ${missing[*]}"
  if ! { apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "!! apt-get could not install ${missing[*]}"
  fi
fi

start_pg() {
  if [ -n "${NURTURE_TEST_POSTGRES:-}" ]; then
    echo "== using PostgreSQL from NURTURE_TEST_POSTGRES"
    return 0
  fi
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    return 1
  fi
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PGDATA=$(mktemp -d)
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PGDATA"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  "${run[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA -c fsync=off -c max_connections=200" start >/dev/null
  local admin="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
  if command -v psql >/dev/null; then
    psql "$admin" -qc "CREATE DATABASE nurture_test" >/dev/null
  else
    "${run[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres nurture_test
  fi
  export NURTURE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PGPORT/nurture_test?sslmode=disable"
  echo "== PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT"
}

if ! start_pg; then
  echo "!! =================================================================="
  echo "!! PostgreSQL is not available (not installed and cannot install it)."
  echo "!! Running the SQLite suite ONLY. The PostgreSQL half is NOT tested."
  echo "!! =================================================================="
fi

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
race=-race
if ! command -v "$(go env CC)" >/dev/null 2>&1; then
  echo "!! no C compiler: running WITHOUT the race detector (install gcc to get it)"
  race=
fi
echo "== go test $race"
go test $race -count=1 -timeout 20m "$@" ./...
