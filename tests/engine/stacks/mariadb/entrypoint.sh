#!/bin/sh
# Initialise the data directory on first start (as the official image does): the database and
# the user its variables name, on a server that listens on a private socket only (so a health
# check through TCP fails until the real server runs); then exec the server in the foreground.
set -eu
DATADIR=/var/lib/mysql
root_password=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
database=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
user=${MARIADB_USER:-${MYSQL_USER:-}}
password=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}
quote() { printf "%s" "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }
if [ "${1:-}" = mariadbd ]; then
    shift
    mkdir -p "$DATADIR" /run/mysqld
    chown -R mysql:mysql "$DATADIR" /run/mysqld
    if [ ! -d "$DATADIR/mysql" ]; then
        if [ -z "$root_password" ] && [ -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}" ]; then
            echo "mariadb-entrypoint: set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD)" >&2
            exit 1
        fi
        mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
            --auth-root-authentication-method=normal >/dev/null
        initsock=$(mktemp -d)/init.sock
        chown -R mysql:mysql "$(dirname "$initsock")"
        mariadbd --user=mysql --datadir="$DATADIR" --skip-networking --socket="$initsock" &
        pid=$!
        for _ in $(seq 60); do
            mariadb-admin --socket="$initsock" ping --silent 2>/dev/null && break
            sleep 0.5
        done
        {
            echo "DELETE FROM mysql.global_priv WHERE User = '';"
            echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(quote "$root_password")';"
            echo "CREATE USER 'root'@'%' IDENTIFIED BY '$(quote "$root_password")';"
            echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
            if [ -n "$database" ]; then
                echo "CREATE DATABASE IF NOT EXISTS \`$database\`;"
            fi
            if [ -n "$user" ]; then
                echo "CREATE USER '$(quote "$user")'@'%' IDENTIFIED BY '$(quote "$password")';"
                if [ -n "$database" ]; then
                    echo "GRANT ALL ON \`$database\`.* TO '$(quote "$user")'@'%';"
                fi
            fi
            echo "FLUSH PRIVILEGES;"
        } | mariadb --socket="$initsock" -uroot
        kill "$pid"
        wait "$pid" || true
    fi
    exec mariadbd --user=mysql --datadir="$DATADIR" --bind-address=0.0.0.0 "$@"
fi
exec "$@"
