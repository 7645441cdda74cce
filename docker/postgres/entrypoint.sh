#!/bin/sh
# First start: initdb with the password from POSTGRES_PASSWORD_FILE (scram-sha-256 for every network
# client), create POSTGRES_DB owned by POSTGRES_USER. Every start: run the server in the foreground.
set -eu
BIN=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
PGPORT=${PGPORT:-5432}
USER_NAME=${POSTGRES_USER:-postgres}
DB_NAME=${POSTGRES_DB:-$USER_NAME}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD_FILE:-}" ] || [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
    echo "camsvc-postgres: POSTGRES_PASSWORD_FILE must name a non-empty file (the database password)" >&2
    exit 1
  fi
  "$BIN/initdb" -D "$PGDATA" -U "$USER_NAME" --pwfile="$POSTGRES_PASSWORD_FILE" \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses='' -p $PGPORT" -w start >/dev/null
  if [ "$DB_NAME" != postgres ]; then
    "$BIN/createdb" -h /var/run/postgresql -p "$PGPORT" -U "$USER_NAME" -O "$USER_NAME" "$DB_NAME"
  fi
  "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  echo "camsvc-postgres: initialised $PGDATA (database $DB_NAME, user $USER_NAME)"
fi
exec "$BIN/postgres" -D "$PGDATA" -c listen_addresses="${POSTGRES_LISTEN:-*}" -p "$PGPORT"
