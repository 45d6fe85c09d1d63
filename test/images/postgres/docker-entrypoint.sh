#!/bin/bash
# docker-entrypoint.sh for model-mirror's Debian-built postgres image. Honours the environment
# contract of the official image (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA,
# POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, /docker-entrypoint-initdb.d/*.sh|*.sql):
# initializes PGDATA on first start, then execs the server in the foreground.
set -Eeuo pipefail

msg() { echo "docker-entrypoint: $*" >&2; }
[ $# -gt 0 ] || set -- postgres
[ "${1:0:1}" = - ] && set -- postgres "$@"
[ "$1" = postgres ] || exec "$@"

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
  # Started as root: own the data and socket dirs, then re-run as postgres (no gosu needed).
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

mkdir -p "$PGDATA"
chmod 700 "$PGDATA" 2>/dev/null || true

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    msg "database is uninitialized and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)"
    exit 1
  fi
  msg "initializing $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
  pwfile=$(mktemp /tmp/pwfile.XXXXXX); trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  # local (unix socket, same uid only) trust, like the official image; every TCP connection,
  # loopback included, must authenticate with scram-sha-256.
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
         --auth-host="$POSTGRES_HOST_AUTH_METHOD" --encoding=UTF8 --locale=C.UTF-8 \
         ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "$pwfile"
  printf '\n# model-mirror image: every host may connect, with a password\nhost all all all %s\n' \
    "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

  # Temporary server on the unix socket only, to create the database and run init scripts.
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p 5432" start >&2
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" -q <<<'CREATE DATABASE :"db";' >&2
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh) msg "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi;;
      *.sql) msg "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2;;
      *.sql.gz) msg "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" >&2;;
      *) [ -e "$f" ] && msg "ignoring $f";;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  msg "init complete"
else
  msg "$PGDATA already initialized (PostgreSQL $(cat "$PGDATA/PG_VERSION")), skipping init"
fi

exec "$@"
