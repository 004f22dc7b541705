#!/bin/bash
# mariadb-entrypoint — example/mariadb:1's entrypoint.
#
# With `mariadbd` (the default command) and an empty /var/lib/mysql, it initialises the
# datadir first:
#   MARIADB_ROOT_PASSWORD[_FILE]  root@localhost's password (required); root keeps
#                                 unix_socket login (healthcheck.sh uses it)
#   MARIADB_DATABASE              a database to create (optional)
#   MARIADB_USER, MARIADB_PASSWORD[_FILE]
#                                 a user, from any host, with every right on that database
# NAME_FILE is the path of a file holding the value (a swarm secret). A datadir that is
# not empty is never touched. Then it execs mariadbd in the foreground as the mysql user.
# Any other command is executed as is.
set -euo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

log() { printf 'mariadb-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# file_env NAME: NAME's value from NAME or from the file named by NAME_FILE.
file_env() {
    local name=$1 file_name=${1}_FILE
    if [[ -n ${!name:-} && -n ${!file_name:-} ]]; then
        die "both $name and $file_name are set"
    fi
    if [[ -n ${!file_name:-} ]]; then
        [[ -r ${!file_name} ]] || die "$file_name: cannot read ${!file_name}"
        printf -v "$name" '%s' "$(<"${!file_name}")"   # $(<) drops the trailing newline
    fi
    printf -v "$name" '%s' "${!name:-}"
    unset "$file_name"
}

sql_string() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"; }
# shellcheck disable=SC2016 # backquotes, not an expansion
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

datadir_empty() { [[ -z $(find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit) ]]; }

TEMP_PID=""
initialisation_failed() {
    log "initialisation failed: emptying $DATADIR for the next try"
    if [[ -n $TEMP_PID ]]; then kill -KILL "$TEMP_PID" 2>/dev/null || true; wait "$TEMP_PID" 2>/dev/null || true; fi
    find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
}

initialise() {
    file_env MARIADB_ROOT_PASSWORD
    file_env MARIADB_PASSWORD
    local db=${MARIADB_DATABASE:-} user=${MARIADB_USER:-}
    [[ -n $MARIADB_ROOT_PASSWORD ]] || die "the datadir is empty and MARIADB_ROOT_PASSWORD(_FILE) is not set"
    if [[ -n $user && -z $MARIADB_PASSWORD ]]; then die "MARIADB_USER is set but MARIADB_PASSWORD(_FILE) is not"; fi

    log "initialising the empty datadir $DATADIR"
    # Whatever fails from here on, leave the datadir empty again for the next try.
    trap initialisation_failed EXIT
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=socket >/dev/null

    # Started directly (not through a function): $! must be mariadbd itself.
    setpriv --reuid=mysql --regid=mysql --init-groups -- \
        mariadbd --skip-networking --socket="$SOCKET" --datadir="$DATADIR" &
    TEMP_PID=$!
    local pid=$TEMP_PID i
    for ((i = 0; i < 60; i++)); do
        mariadb --protocol=socket --socket="$SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "the temporary server exited"
        sleep 1
    done
    ((i < 60)) || die "the temporary server did not answer in 60 s"

    {
        echo "SET @@SESSION.SQL_LOG_BIN = 0;"
        # Accounts named after the initialising container's hostname would only produce
        # warnings later (skip-name-resolve) and match nothing.
        echo "DROP USER IF EXISTS ''@'localhost', ''@'$HOSTNAME', 'root'@'$HOSTNAME', 'mysql'@'$HOSTNAME';"
        echo "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '%');"
        echo "FLUSH PRIVILEGES;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD($(sql_string "$MARIADB_ROOT_PASSWORD"));"
        if [[ -n $db ]]; then
            echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$db");"
        fi
        if [[ -n $user ]]; then
            echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");"
            if [[ -n $db ]]; then echo "GRANT ALL PRIVILEGES ON $(sql_ident "$db").* TO $(sql_string "$user")@'%';"; fi
        fi
    } | mariadb --protocol=socket --socket="$SOCKET" -uroot

    kill -TERM "$pid"
    wait "$pid" || die "the temporary server did not stop cleanly"
    trap - EXIT
    log "initialised${db:+: database $db}${user:+, user $user}"
}

if [[ ${1:-} == mariadbd || ${1:-} == mysqld ]]; then
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    # A fresh named volume is owned by root unless it copied the image's directory.
    [[ $(stat -c %U "$DATADIR") == mysql ]] || chown mysql:mysql "$DATADIR"
    if datadir_empty; then
        initialise
    fi
    unset MARIADB_ROOT_PASSWORD MARIADB_PASSWORD
    exec setpriv --reuid=mysql --regid=mysql --init-groups -- "$@"
fi
exec "$@"
