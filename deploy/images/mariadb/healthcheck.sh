#!/bin/sh
# healthcheck.sh — example/mariadb:1: exits 0 when the server answers.
#   --connect             a client can log in (root through the unix socket)
#   --innodb_initialized  InnoDB is up
# (the options of the official image's healthcheck.sh that the example uses; no option
# means --connect).
set -eu
sql() { mariadb --protocol=socket -uroot --connect-timeout=3 -N -B -e "$1"; }
[ $# -gt 0 ] || set -- --connect
for arg in "$@"; do
    case $arg in
        --connect)
            sql 'SELECT 1' >/dev/null ;;
        --innodb_initialized)
            [ "$(sql "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE = 'InnoDB' AND SUPPORT IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ] ;;
        *)
            echo "healthcheck.sh: unknown option $arg" >&2
            exit 2 ;;
    esac
done
