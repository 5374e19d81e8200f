#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the findings tests and print its SQLAlchemy URL.
#   url=$(scripts/pg_throwaway.sh start DIR)   # DIR is created; the server listens on a unix socket in it
#   scripts/pg_throwaway.sh stop DIR
# initdb refuses to run as root, so as root the server runs as the postgres user (Debian's package
# creates it), in a folder that user owns. Needs Debian's postgresql (apt-get install -y postgresql).
set -euo pipefail
action=${1:?start or stop}; dir=${2:?folder}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "no /usr/lib/postgresql/*/bin: apt-get install -y postgresql" >&2; exit 1; }
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
case "$action" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir/db" -U postgres -A trust --no-sync >/dev/null
    # A unix socket in our own folder: no port to collide with another server on the machine.
    "${as[@]}" "$bin/pg_ctl" -D "$dir/db" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -k $dir -c fsync=on" start >/dev/null
    "${as[@]}" "$bin/createdb" -h "$dir" -U postgres findings_test
    echo "postgresql+psycopg://postgres@/findings_test?host=$dir"
    ;;
  stop)
    dir=$(cd "$dir" && pwd)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/db" -m fast -w stop >/dev/null
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
