# Sourced by .ci/run: a throwaway PostgreSQL cluster on 127.0.0.1 for the ledger's tests
# (tests/ledger_postgres.rs). Installs Debian's `postgresql` when no server is there, makes
# the cluster in a temporary directory (as the `postgres` user when run as root: initdb
# refuses root), starts it, exports where it is, and stops and removes it on exit.
#   OSCAR_TEST_POSTGRES      URL of its `postgres` database (the tests make their own)
#   OSCAR_TEST_POSTGRES_CTL  pg_ctl for it, with -D and -l: `$OSCAR_TEST_POSTGRES_CTL stop`
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  as_root=$([ "$(id -u)" = 0 ] || echo sudo)
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/oscar-ci-postgres.XXXXXX")
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$pg_dir"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync >/dev/null
pg_port=$((20000 + RANDOM % 20000))
cat >>"$pg_dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_dir'
max_connections = 300
CONF
export OSCAR_TEST_POSTGRES_CTL="${as_pg[*]} $pg_bin/pg_ctl -D $pg_dir/data -l $pg_dir/log -w"
$OSCAR_TEST_POSTGRES_CTL start >/dev/null
export OSCAR_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pg_port/postgres"
# `-m immediate`: nothing of a throwaway cluster needs to reach its disk.
trap '$OSCAR_TEST_POSTGRES_CTL stop -m immediate >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
