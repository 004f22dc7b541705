#!/usr/bin/env bash
# tests/lab/smoke.sh — end-to-end smoke test of the lab (deploy/lab/lab).
#
# Brings the lab up (installing what is missing), checks the swarm, the gluster
# pool, a replica-3 volume shared by all hosts, a swarm service serving a file
# from it on every host, a node crash and restore, removes what it created, then
# takes the lab down and checks that nothing of it is left.
# Prints "ok - NAME" / "not ok - NAME: why" per check and ends with
# "N passed, M failed"; exits non-zero if any check failed.
# KEEP_LAB=1 skips the final `lab down` (for debugging).
# shellcheck disable=SC2016,SC2143,SC2119
# (SC2016: waits pass single-quoted conditions to `eval` on purpose. SC2143:
# `[[ -z $(... | grep) ]]` is kept because `! ... | grep -q` is fooled by
# pipefail when grep exits early. SC2119: lab_ensure_up takes no args here.)
set -uo pipefail
# shellcheck source=tests/lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VOLUME=storage
MNT=/data/storage
BRICK=/data/bricks/storage
WEB=smoke-web
REP=smoke-rep
CONTENT="smoke $(date +%s) $RANDOM"
NODES=(node1 node2 node3)

# Evidence gathered before `down`, checked after it.
LAB_PIDS=""
LAB_MNTNS=""

svc_running_nodes() { # SERVICE: node names of running tasks, one per line
    docker service ps "$1" --filter desired-state=running \
        --format '{{.Node}} {{.CurrentState}}' 2>/dev/null | awk '$2 == "Running" { print $1 }'
}

lab_daemon_pids() { # holder, dockerd and glusterd pid of every node
    local n f
    for n in "${NODES[@]}"; do
        for f in holder dockerd glusterd; do cat "$LAB_STATE/$n/$f.pid" 2>/dev/null; done
    done | tr '\n' ' '
}

# Remove what this test creates (also leftovers of an interrupted earlier run).
cleanup_test_objects() {
    docker service rm "$WEB" "$REP" >/dev/null 2>&1
    local n
    for n in "${NODES[@]}"; do lab_exec "$n" umount "$MNT" >/dev/null 2>&1; done
    if lab_exec node1 gluster --mode=script volume info "$VOLUME" >/dev/null 2>&1; then
        lab_wait 30 lab_exec node1 gluster --mode=script volume stop "$VOLUME" force
        lab_wait 30 lab_exec node1 gluster --mode=script volume delete "$VOLUME" || return 1
    fi
    # A brick dir remembers its volume (xattrs): remove it for the next run.
    for n in "${NODES[@]}"; do lab_exec "$n" rm -rf "$BRICK" "$MNT" >/dev/null 2>&1; done
    return 0
}

check_up() {
    local t0=$SECONDS
    "$LAB_BIN" up >/tmp/smoke-lab-up.log 2>&1 || { T_WHY="lab up failed: $(tail -3 /tmp/smoke-lab-up.log | tr '\n' ' ')"; return 1; }
    echo "# lab up took $((SECONDS - t0))s"
    lab_ensure_up >/dev/null 2>&1 || { T_WHY="lab env failed"; return 1; }
    cleanup_test_objects
}

check_up_idempotent() {
    local before after t0=$SECONDS out
    before=$(lab_daemon_pids)
    out=$("$LAB_BIN" up 2>&1) || { T_WHY="second lab up failed"; return 1; }
    after=$(lab_daemon_pids)
    echo "# second lab up took $((SECONDS - t0))s"
    [[ $before == "$after" ]] || { T_WHY="daemons were restarted ($before -> $after)"; return 1; }
    if grep -qE 'starting|joining|probe|loading' <<<"$out"; then T_WHY="it changed something: $out"; return 1; fi
    ((SECONDS - t0 <= 30)) || { T_WHY="took $((SECONDS - t0))s"; return 1; }
}

check_engine() {
    # Unset: the lab keeps the engine it runs (28 when it comes up anew).
    local want=${SHOAL_LAB_ENGINE:-$("$LAB_BIN" engine)} n v status
    [[ $("$LAB_BIN" engine) == "$want" ]] || { T_WHY="lab engine says '$("$LAB_BIN" engine)'"; return 1; }
    status=$("$LAB_BIN" status)
    for n in "${NODES[@]}"; do
        v=$(docker -H "$(lab_node_sock "$n")" version --format '{{.Server.Version}}') || { T_WHY="$n: no engine"; return 1; }
        [[ $v == "$want".* ]] || { T_WHY="$n runs engine $v"; return 1; }
        grep -q "^$n .* ${v%%+*} " <<<"$status" || { T_WHY="lab status does not show $n's $v: $status"; return 1; }
    done
}

check_nodes_ready() {
    local ls
    ls=$(docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}') || { T_WHY="docker node ls failed"; return 1; }
    [[ $(wc -l <<<"$ls") == 3 ]] || { T_WHY="expected 3 nodes: $ls"; return 1; }
    [[ $(awk '{print $1}' <<<"$ls" | sort -u | tr '\n' ' ') == "node1 node2 node3 " ]] || { T_WHY="hostnames: $ls"; return 1; }
    [[ $(grep -c ' Ready Active$' <<<"$ls") == 3 ]] || { T_WHY="not all Ready/Active: $ls"; return 1; }
}

check_images() {
    local n
    for n in "${NODES[@]}"; do
        lab_exec "$n" docker image inspect lab/web:1 lab/web:2 lab/tools:1 >/dev/null 2>&1 ||
            { T_WHY="$n lacks a lab image"; return 1; }
    done
}

check_gluster_pool() {
    local pool
    pool=$(lab_exec node1 gluster --mode=script pool list 2>&1) || { T_WHY="pool list failed: $pool"; return 1; }
    [[ $(tail -n +2 <<<"$pool" | grep -c 'Connected') == 3 ]] || { T_WHY="$(tr '\n' ' ' <<<"$pool")"; return 1; }
}

check_volume() {
    local n bricks=() out
    for n in "${NODES[@]}"; do
        lab_exec "$n" mkdir -p "$BRICK" "$MNT"
        bricks+=("$(lab_node_ip "$n"):$BRICK")
    done
    # force: the bricks are on the root filesystem.
    out=$(lab_exec node1 gluster --mode=script volume create "$VOLUME" replica 3 "${bricks[@]}" force 2>&1) ||
        { T_WHY="volume create: $out"; return 1; }
    out=$(lab_exec node1 gluster --mode=script volume start "$VOLUME" 2>&1) || { T_WHY="volume start: $out"; return 1; }
    for n in "${NODES[@]}"; do
        out=$(lab_exec "$n" mount -t glusterfs \
            -o "backup-volfile-servers=$(lab_node_ip node1):$(lab_node_ip node2):$(lab_node_ip node3)" \
            "$(lab_node_ip "$n"):/$VOLUME" "$MNT" 2>&1) || { T_WHY="mount on $n: $out"; return 1; }
    done
    lab_exec node1 sh -c "mkdir -p $MNT/www && echo '$CONTENT' > $MNT/www/hello.txt" || { T_WHY="write on node1 failed"; return 1; }
    out=$(lab_exec node3 cat "$MNT/www/hello.txt" 2>&1)
    [[ $out == "$CONTENT" ]] || { T_WHY="node3 read '$out'"; return 1; }
}

serves_everywhere() {
    local n got
    for n in "${NODES[@]}"; do
        # From node1 across the lab network to each host's host-mode port...
        got=$(lab_http node1 "http://$(lab_node_ip "$n"):18080/hello.txt" 2>/dev/null)
        [[ $got == "$CONTENT" ]] || { T_WHY="$n:18080 served '$got'"; return 1; }
        # ...and the task's built-in page names the node it runs on.
        got=$(lab_http "$n" "http://127.0.0.1:18081/" 2>/dev/null)
        [[ $got == *"node=$n "* ]] || { T_WHY="$n:18081 page '$got'"; return 1; }
    done
}

check_service() {
    docker service create -d --quiet --name "$WEB" --mode global \
        --publish mode=host,published=18080,target=8080 \
        --publish mode=host,published=18081,target=8081 \
        --mount "type=bind,src=$MNT/www,dst=/www,readonly" \
        --env 'NODE_NAME={{.Node.Hostname}}' --env 'TASK_NAME={{.Task.Name}}' \
        lab/web:1 >/dev/null 2>&1 || { T_WHY="service create failed"; return 1; }
    lab_wait 60 eval '[[ $(svc_running_nodes $WEB | sort -u | wc -l) == 3 ]]' ||
        { T_WHY="running on: $(svc_running_nodes $WEB | tr '\n' ' ')"; return 1; }
    lab_wait 20 serves_everywhere || { serves_everywhere; return 1; }
}

check_crash() {
    docker service create -d --quiet --name "$REP" --replicas 3 \
        --placement-pref spread=node.hostname lab/tools:1 >/dev/null 2>&1 || { T_WHY="service create failed"; return 1; }
    lab_wait 60 eval '[[ $(svc_running_nodes $REP | sort -u | wc -l) == 3 ]]' ||
        { T_WHY="$REP not spread: $(svc_running_nodes $REP | tr '\n' ' ')"; return 1; }
    # A unit of the host (as `shoal agent` is one): started again on restore.
    "$LAB_BIN" start node2 smoke-unit -- busybox httpd -f -p 18090 -h /etc >/dev/null 2>&1 ||
        { T_WHY="lab start failed"; return 1; }
    lab_wait 10 unit_serves || { T_WHY="the unit does not serve"; return 1; }
    "$LAB_BIN" crash node2 >/dev/null 2>&1 || { T_WHY="lab crash failed"; return 1; }
    ! unit_serves || { T_WHY="the unit survived the crash"; return 1; }
    local t0=$SECONDS
    lab_wait 90 eval '[[ $(docker node inspect node2 --format "{{.Status.State}}") == down ]]' ||
        { T_WHY="node2 not Down after 90s"; return 1; }
    echo "# node2 Down after $((SECONDS - t0))s"
    lab_wait 90 eval '[[ $(svc_running_nodes $REP | wc -l) == 3 && -z $(svc_running_nodes $REP | grep -x node2) ]]' ||
        { T_WHY="tasks not rescheduled: $(svc_running_nodes $REP | tr '\n' ' ')"; return 1; }
    echo "# $REP rescheduled after $((SECONDS - t0))s onto: $(svc_running_nodes $REP | sort | tr '\n' ' ')"
}

# The unit on node2 serves the host's /etc/hosts (the lab's: it names node2).
unit_serves() { lab_http node1 "http://$(lab_node_ip node2):18090/hosts" 2>/dev/null | grep -q ' node2$'; }

check_restore() {
    "$LAB_BIN" restore node2 >/dev/null 2>&1 || { T_WHY="lab restore failed"; return 1; }
    [[ $(docker node inspect node2 --format '{{.Status.State}}') == ready ]] || { T_WHY="node2 not Ready"; return 1; }
    lab_wait 60 eval "lab_exec node1 gluster --mode=script pool list | grep -q '$(lab_node_ip node2).*Connected'" ||
        { T_WHY="node2 gluster peer not Connected"; return 1; }
    lab_wait 10 unit_serves || { T_WHY="the unit of node2 was not started again"; return 1; }
    "$LAB_BIN" stop node2 smoke-unit
    [[ ! -e $LAB_STATE/node2/smoke-unit.unit ]] && ! unit_serves || { T_WHY="lab stop left the unit enabled or running"; return 1; }
}

check_cleanup() {
    cleanup_test_objects || { T_WHY="could not delete volume $VOLUME"; return 1; }
    local left
    left=$(docker service ls -q --filter "name=smoke-") || { T_WHY="docker service ls failed"; return 1; }
    [[ -z $left ]] || { T_WHY="services left"; return 1; }
}

gather_evidence() {
    local n m
    LAB_PIDS=$(lab_daemon_pids)
    for n in "${NODES[@]}"; do
        LAB_PIDS+=" $(ip netns pids "shoal-$n" 2>/dev/null | tr '\n' ' ')"
        LAB_PIDS+=" $(find "/sys/fs/cgroup/pids/shoal-lab/$n" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
        m=$(cat "$LAB_STATE/$n/mntns" 2>/dev/null) && LAB_MNTNS+=" $m"
    done
}

check_down() {
    gather_evidence
    "$LAB_BIN" down >/dev/null 2>&1 || { T_WHY="lab down failed"; return 1; }
    "$LAB_BIN" down >/dev/null 2>&1 || { T_WHY="second lab down failed"; return 1; }
    local p left="" m
    for p in $LAB_PIDS; do
        [[ -d /proc/$p ]] && left+=" $p($(cat "/proc/$p/comm" 2>/dev/null),$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null))"
    done
    for p in /proc/[0-9]*; do
        m=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
        [[ -n $m && " $LAB_MNTNS " == *" $m "* ]] && left+=" ${p#/proc/}(in a host's mount ns)"
    done
    [[ -z $left ]] || { T_WHY="processes left:$left"; return 1; }
    [[ -z $(ip netns list | grep '^shoal-') ]] || { T_WHY="netns left: $(ip netns list | tr '\n' ' ')"; return 1; }
    ! ip link show shoal-lab0 >/dev/null 2>&1 || { T_WHY="bridge left"; return 1; }
    [[ -z $(ip -o link show | grep -E ': shl-') ]] || { T_WHY="veths left"; return 1; }
    # Only this lab's traces: another lab (other SHOAL_LAB_* settings) may run beside it.
    [[ -z $(iptables -w -S 2>/dev/null | grep -F "shoal-lab:${SHOAL_LAB_BRIDGE:-shoal-lab0}") ]] ||
        { T_WHY="iptables rule left"; return 1; }
    [[ -z $(grep -E "$LAB_STATE/|glusterfs" /proc/self/mountinfo) ]] || { T_WHY="mounts left"; return 1; }
    [[ ! -e $LAB_STATE ]] || { T_WHY="$LAB_STATE left"; return 1; }
    [[ -z $(ls -d /sys/fs/cgroup/*/shoal-lab /sys/fs/cgroup/shoal-lab 2>/dev/null) ]] || { T_WHY="cgroups left"; return 1; }
}

main() {
    [[ $(id -u) == 0 ]] || { echo "not ok - smoke: needs root"; echo "0 passed, 1 failed"; return 1; }
    t_check "lab up (installs what is missing)" check_up
    t_check "second lab up is a fast no-op" check_up_idempotent
    t_check "every host runs the lab's Docker Engine (${SHOAL_LAB_ENGINE:-as it runs}), as lab status shows" check_engine
    t_check "docker node ls: 3 Ready nodes, distinct hostnames" check_nodes_ready
    t_check "lab images on every node" check_images
    t_check "gluster pool: 3 peers Connected" check_gluster_pool
    t_check "replica-3 volume on $MNT: node1 writes, node3 reads" check_volume
    t_check "global service bind-mounting the volume serves it on every node" check_service
    t_check "lab crash node2: Down, tasks rescheduled" check_crash
    t_check "lab restore node2: Ready, peer Connected, its unit started again" check_restore
    t_check "test services and volume removed" check_cleanup
    if [[ -n ${KEEP_LAB:-} ]]; then
        echo "# KEEP_LAB set: lab left up"
    else
        t_check "lab down (twice) leaves no process, mount, netns, bridge, rule" check_down
    fi
    t_summary
}

main "$@"
