# shellcheck shell=bash
# tests/lab/lib.sh — helpers for test suites that run against the lab (deploy/lab).
#
# Source it from a bash test script:
#     . "$(dirname "$0")/../lab/lib.sh"     # path relative to your script
#     lab_ensure_up                          # lab up (idempotent) + DOCKER_HOST
#     lab_exec node2 docker ps               # a command inside a host
#     t_check "name" some_function           # prints ok / not ok
#     t_summary                              # "N passed, M failed"; returns 1 on failures
# It sets no shell options of its own: the sourcing script chooses them.

LAB_REPO=${LAB_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB_BIN=${LAB_BIN:-$LAB_REPO/deploy/lab/lab}
LAB_STATE=${SHOAL_LAB_DIR:-/var/lib/shoal-lab}
LAB_NET=${SHOAL_LAB_NET:-10.213.0}

# lab_ensure_up [ARGS...]: bring the lab up once per test process (a `lab up`
# is idempotent and repairs a half-up lab), then export DOCKER_HOST for node1.
lab_ensure_up() {
    if [[ -z ${LAB_IS_UP:-} ]]; then
        "$LAB_BIN" up "$@" || return 1
        LAB_IS_UP=1
    fi
    eval "$("$LAB_BIN" env)"
    export DOCKER_HOST
}

lab_exec() { local node=$1; shift; "$LAB_BIN" exec "$node" -- "$@"; }
lab_node_ip() { echo "$LAB_NET.$((10 + ${1#node}))"; }
lab_node_sock() { echo "unix://$LAB_STATE/$1/docker.sock"; }

# lab_http NODE URL: GET URL from inside NODE (bounded to 5 s). Uses busybox
# wget under `timeout`: busybox 1.35's own `wget -T` segfaults.
lab_http() { lab_exec "$1" timeout 5 busybox wget -qO- "$2"; }

# lab_wait SECONDS CMD...: run CMD once a second until it succeeds, at most
# SECONDS times. Returns CMD's success; never waits unbounded.
lab_wait() {
    local max=$1 i
    shift
    for ((i = 0; i < max; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}

# ---- minimal TAP-like reporting -------------------------------------------
T_PASS=0
T_FAIL=0
T_WHY=""

t_ok() { T_PASS=$((T_PASS + 1)); echo "ok - $1"; }
t_not_ok() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $1: ${2:-failed}"; }

# t_check NAME CMD...: CMD (usually a function) returns 0 for success and may
# set T_WHY to say why it failed. It runs in the current shell.
t_check() {
    local name=$1
    shift
    T_WHY=""
    if "$@"; then t_ok "$name"; else t_not_ok "$name" "${T_WHY:-exit status $?}"; fi
}

# t_summary: the closing line CI reads; returns 1 if anything failed.
t_summary() {
    echo "$T_PASS passed, $T_FAIL failed"
    ((T_FAIL == 0))
}
