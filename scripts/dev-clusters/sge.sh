#!/usr/bin/env bash
# sge.sh - a real single-node Grid Engine (Son of Grid Engine 8.1.9, the
# Debian 12 gridengine-master/-exec/-client packages) on this machine, for
# development and CI tests of distributor.  No systemd needed.  Run as root.
#
#   sge.sh start  [--slots N] [--mem SIZE] [--vmem-default SIZE] [--no-smoke] [--no-install] [--wait SECONDS]
#   sge.sh stop   [--keep-jobs] [--purge]
#   sge.sh status [--quiet]
#
# start   installs the packages if missing (apt-get, non-interactive), sets up
#         the cell "default" with this host as admin, submit and exec host,
#         queue all.q (slots = number of cores), parallel environment smp
#         ($pe_slots, for multi-core jobs: qsub -pe smp N), h_vmem as a
#         per-slot consumable (host capacity --mem, default MemTotal; jobs
#         without -l h_vmem implicitly request --vmem-default, default
#         MemTotal/slots; the request is also the job's address-space limit,
#         RLIMIT_AS), starts sge_qmaster and sge_execd and
#         waits until a smoke job has run.  Idempotent: on a healthy cell with
#         the same settings it only checks and returns (well under 1 s).
#         Prints the env file path on stdout (progress goes to stderr).
# stop    stops only the daemons this script started (PIDs recorded by start,
#         checked against /proc/PID/exe and the process start time) and the
#         job processes below that sge_execd; never kills anything by name.
#         --keep-jobs: no qdel first; --purge: also wipe the cell's spool,
#         configuration and accounting (the next start initialises a new cell).
# status  exit 0 if qmaster answers and the queue instance all.q@HOST is
#         available (no state flags), non-zero otherwise.
#
# Environment knobs: DISTRIBUTOR_SGE_STATE_DIR (default /tmp/distributor-sge).
# Clients: source "$STATE_DIR/env.sh" (exports SGE_ROOT, SGE_CELL, ports and
# DISTRIBUTOR_SGE_*); the Debian /usr/bin/q* wrappers also work without it.
set -euo pipefail

export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
SGE_QMASTER_PORT=6444
SGE_EXECD_PORT=6445
SPOOL=/var/spool/gridengine
COMMON=$SGE_ROOT/$SGE_CELL/common
UTIL=/usr/lib/gridengine            # = $SGE_ROOT/utilbin/lx-amd64, real binaries
QMASTER_EXE=$UTIL/sge_qmaster
EXECD_EXE=$UTIL/sge_execd
QUEUE=all.q
PE=smp
STATE_DIR=${DISTRIBUTOR_SGE_STATE_DIR:-/tmp/distributor-sge}
ENV_FILE=$STATE_DIR/env.sh
PKGS=(gridengine-master gridengine-exec gridengine-client)
APT_LOCK=(-o DPkg::Lock::Timeout=600)
CMD=${1:-}
[ $# -gt 0 ] && shift
T0=$(date +%s.%N)

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log()   { printf '[sge.sh %s %5ss] %s\n' "$CMD" "$(since "$T0")" "$*" >&2; }
die()   { log "ERROR: $*"; exit 1; }
usage() {
    sed -n '6,8p' "$0" | sed 's/^# *//' >&2
    exit 2
}
# poll CMD every 0.2 s until it succeeds or LIMIT seconds have passed
wait_for() {
    local limit=$1 what=$2; shift 2
    local end=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || die "timed out after ${limit}s waiting for: $what"
        sleep 0.2
    done
}
# (never "cmd | grep -q" under pipefail: grep exits early, cmd dies of SIGPIPE)
has_line() { local want=$1 out; shift; out=$("$@" 2>/dev/null) || true; grep -qx -- "$want" <<<"$out"; }

# --------------------------------------------------------------- processes
# start time (field 22 of /proc/PID/stat) of a live, non-zombie process
starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '$1 != "Z" {print $20}'; }
# pid_in_file FILE EXE: print the pid in FILE if it is a live process running EXE
pid_in_file() {
    local f=$1 exe=$2 pid
    [ -n "$f" ] && [ -r "$f" ] || return 1
    pid=$(tr -dc 0-9 < "$f")
    [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 1
    echo "$pid"
}
pid_by_comm() {   # pid_by_comm FILE COMM: like pid_in_file, for non-root callers
    local f=$1 comm=$2 pid
    [ -n "$f" ] && [ -r "$f" ] || return 1
    pid=$(tr -dc 0-9 < "$f")
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
    echo "$pid"
}
# shellcheck disable=SC2012  # the names are ours: .../execd/<host>/execd.pid
execd_pidfile() { ls -t "$SPOOL"/execd/*/execd.pid 2>/dev/null | head -1; }
# the execd's pid file lives in a directory named after the host (as resolved
# by SGE, e.g. "localhost"), so find it anew on every call
execd_running() { pid_in_file "$(execd_pidfile)" "$EXECD_EXE"; }
# our records: $STATE_DIR/NAME.rec = "PID STARTTIME EXE" written when we started it
record() {  # record NAME PID EXE
    echo "$2 $(starttime "$2") $3" > "$STATE_DIR/$1.rec"
}
# ours NAME: print the recorded pid if that exact process is still alive
ours() {
    local f=$STATE_DIR/$1.rec pid st exe
    [ -r "$f" ] || return 1
    read -r pid st exe < "$f" || return 1
    [ -n "$pid" ] && [ -n "$st" ] || return 1
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 1
    [ "$(starttime "$pid")" = "$st" ] || return 1
    echo "$pid"
}

HOST=$(hostname)
MADE_POLICY=0   # 1 while a policy-rc.d created by us exists
CFG_DIR=""
cleanup() {
    [ "$MADE_POLICY" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ -n "$CFG_DIR" ] && rm -rf "$CFG_DIR"
    return 0
}
trap cleanup EXIT
queue_line() { qstat -f -q "$QUEUE@$HOST" 2>/dev/null | awk -v q="$QUEUE@$HOST" '$1==q'; }
# queue instance known, host reporting load, no state letters (u, E, d, a ...)
queue_ok() {
    local line
    line=$(queue_line)
    [ -n "$line" ] || return 1
    # columns: queuename qtype resv/used/tot load arch [states]
    [ "$(awk '{print NF}' <<<"$line")" -eq 5 ]
}
qmaster_answers() { timeout 10 qconf -sh >/dev/null 2>&1; }

write_env_file() {
    local slots=$1 mem=$2 vmem_default=$3 tmp
    tmp=$(mktemp "$STATE_DIR/env.sh.XXXXXX")
    cat > "$tmp" <<EOF
# Grid Engine dev cell made by scripts/dev-clusters/sge.sh - source this file.
export SGE_ROOT=$SGE_ROOT
export SGE_CELL=$SGE_CELL
export SGE_QMASTER_PORT=$SGE_QMASTER_PORT
export SGE_EXECD_PORT=$SGE_EXECD_PORT
export DISTRIBUTOR_SGE_HOST=$HOST
export DISTRIBUTOR_SGE_QUEUE=$QUEUE
export DISTRIBUTOR_SGE_PE=$PE
export DISTRIBUTOR_SGE_SLOTS=$slots
export DISTRIBUTOR_SGE_MEM=$mem
export DISTRIBUTOR_SGE_VMEM_DEFAULT=$vmem_default
export DISTRIBUTOR_SGE_ACCOUNTING=$COMMON/accounting
EOF
    chmod 644 "$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

# ================================================================= status
cmd_status() {
    local quiet=0 q="" e="" rc=0 line
    for a in "$@"; do
        case $a in -q|--quiet) quiet=1 ;; *) usage ;; esac
    done
    say() { [ "$quiet" = 1 ] || echo "$*"; }
    q=$(pid_in_file "$SPOOL/qmaster/qmaster.pid" "$QMASTER_EXE" 2>/dev/null) || q=""
    e=$(execd_running 2>/dev/null) || e=""
    if [ "$(id -u)" != 0 ]; then
        # /proc/PID/exe of sgeadmin's processes is unreadable: compare comm
        [ -n "$q" ] || q=$(pid_by_comm "$SPOOL/qmaster/qmaster.pid" sge_qmaster) || q=""
        [ -n "$e" ] || e=$(pid_by_comm "$(execd_pidfile)" sge_execd) || e=""
    fi
    say "host:     $HOST"
    say "qmaster:  ${q:-not running}$(ours qmaster >/dev/null 2>&1 && echo ' (started by sge.sh)')"
    say "execd:    ${e:-not running}$(ours execd >/dev/null 2>&1 && echo ' (started by sge.sh)')"
    if [ -n "$q" ] && qmaster_answers; then
        line=$(queue_line)
        say "queue:    ${line:-$QUEUE@$HOST not found}"
        queue_ok || rc=1
        # a dead execd shows in qstat only after max_unheard (60 s)
        [ -n "$e" ] || rc=1
    else
        say "qmaster does not answer"
        rc=1
    fi
    [ -r "$ENV_FILE" ] && say "env file: $ENV_FILE"
    say "status:   $([ $rc = 0 ] && echo up || echo DOWN)"
    return $rc
}

# ================================================================== start
cmd_start() {
    local slots mem="" vmem_default="" smoke=1 install=1 wait=120
    slots=$(nproc)
    while [ $# -gt 0 ]; do
        case $1 in
            --slots) slots=${2:?}; shift ;;
            --mem) mem=${2:?}; shift ;;
            --vmem-default) vmem_default=${2:?}; shift ;;
            --no-smoke) smoke=0 ;;
            --no-install) install=0 ;;
            --wait) wait=${2:?}; shift ;;
            *) usage ;;
        esac
        shift
    done
    [[ $slots =~ ^[1-9][0-9]*$ ]] || die "--slots must be a positive integer"
    [[ $wait =~ ^[1-9][0-9]*$ ]] || die "--wait must be a positive integer"
    if [ -z "$mem" ]; then
        mem="$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)M"
    fi
    [[ $mem =~ ^[0-9]+[KkMmGg]?$ ]] || die "--mem must look like 4096M or 16G"
    if [ -z "$vmem_default" ]; then
        vmem_default="$(awk -v m="$mem" -v n="$slots" 'BEGIN {
            u = toupper(substr(m, length(m))); v = m + 0
            if (u == "G") v *= 1024; else if (u == "K") v /= 1024; else if (u != "M") v /= 1048576
            printf "%d", v / n }')M"
    fi
    [[ $vmem_default =~ ^[1-9][0-9]*[KkMmGg]?$ ]] || die "--vmem-default must look like 1024M or 2G"
    [ "$(id -u)" = 0 ] || die "must run as root"
    mkdir -p "$STATE_DIR"
    # one start/stop at a time
    exec 9>"$STATE_DIR/lock"
    flock -w 900 9 || die "could not lock $STATE_DIR/lock"

    # ---- fast path: healthy cell started by us with the same settings
    local want="slots=$slots mem=$mem vmem_default=$vmem_default queue=$QUEUE pe=$PE v=1"
    if ours qmaster >/dev/null && ours execd >/dev/null && [ -r "$STATE_DIR/config" ] \
        && [ "$(cat "$STATE_DIR/config")" = "$want" ] && [ -r "$ENV_FILE" ] \
        && qmaster_answers && queue_ok; then
        log "cell already up ($QUEUE@$HOST, $slots slots, qmaster pid $(ours qmaster), execd pid $(ours execd))"
        echo "$ENV_FILE"
        return 0
    fi

    # ---- 1. packages
    pkgs_ok() {
        local p
        for p in "${PKGS[@]}"; do
            # shellcheck disable=SC2016  # ${Status} is dpkg-query's, not ours
            has_line 'install ok installed' dpkg-query -W -f='${Status}\n' "$p" || return 1
        done
    }
    if ! pkgs_ok; then
        [ "$install" = 1 ] || die "Grid Engine packages missing (and --no-install given)"
        log "installing ${PKGS[*]}"
        local ti policy rc=0 i
        ti=$(date +%s.%N)
        # debconf answers (all templates are shared/*); master = this host.
        # config.dat may be locked by a concurrent apt/dpkg run: retry.
        for ((i = 0; ; i++)); do
            debconf-set-selections <<EOF && break
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string $SGE_CELL
gridengine-common shared/gridenginemaster string $HOST
EOF
            [ $i -lt 300 ] || die "debconf-set-selections kept failing (debconf database locked?)"
            sleep 2
        done
        apt_update() {
            # the lists lock has no timeout option: retry while another apt holds it
            local j
            log "apt-get update"
            for ((j = 0; ; j++)); do
                DEBIAN_FRONTEND=noninteractive apt-get update -q "${APT_LOCK[@]}" >&2 && return 0
                [ $j -lt 60 ] || die "apt-get update failed"
                log "apt-get update failed (lock held by another apt?), retrying in 10 s"
                sleep 10
            done
        }
        policy=$(apt-cache policy gridengine-master 2>/dev/null || true)
        local updated=0
        if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
            apt_update
            updated=1
        fi
        # keep the postinsts from starting daemons (gridengine-*, exim4) through
        # invoke-rc.d: create a deny-all policy-rc.d only if there is none,
        # and remove only the one we created
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\n# temporary, from distributor sge.sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            MADE_POLICY=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${APT_LOCK[@]}" \
            --no-install-recommends "${PKGS[@]}" >&2 || rc=$?
        if [ "$rc" != 0 ] && [ "$updated" = 0 ]; then
            log "apt-get install failed (rc=$rc), maybe stale package lists: updating and retrying once"
            apt_update
            rc=0
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${APT_LOCK[@]}" \
                --no-install-recommends "${PKGS[@]}" >&2 || rc=$?
        fi
        [ "$MADE_POLICY" = 1 ] && rm -f /usr/sbin/policy-rc.d
        MADE_POLICY=0
        [ "$rc" = 0 ] || die "apt-get install failed (rc=$rc)"
        pkgs_ok || die "packages still not installed after apt-get install"
        log "installed in $(since "$ti")s"
    fi
    [ -x "$QMASTER_EXE" ] && [ -x "$EXECD_EXE" ] || die "$QMASTER_EXE or $EXECD_EXE missing"
    id sgeadmin >/dev/null 2>&1 || die "user sgeadmin missing (package postinst failed?)"

    # ---- 2. name resolution and ports
    # SGE compares the name a client claims (gethostname -> gethostbyname)
    # with the name the qmaster gets by reverse-resolving the client's IP.
    # With the hostname on 127.0.0.1 that gives "localhost" and every client
    # call fails with "access denied: client IP resolved to host name
    # localhost. This is not identical to clients host name vm".  A
    # host_aliases file mapping those names onto $HOST fixes it.
    if ! getent hosts "$HOST" >/dev/null; then
        log "hostname $HOST does not resolve; adding '127.0.1.1 $HOST' to /etc/hosts"
        echo "127.0.1.1 $HOST" >> /etc/hosts
    fi
    getent services sge_qmaster >/dev/null \
        || printf 'sge_qmaster\t%s/tcp\nsge_execd\t%s/tcp\n' "$SGE_QMASTER_PORT" "$SGE_EXECD_PORT" >> /etc/services

    # ---- 3. cell files (the postinst does this on first install; redo after --purge)
    install -d -o sgeadmin -g sgeadmin -m 755 "$SGE_ROOT/$SGE_CELL" "$COMMON" \
        "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$SPOOL/execd"
    [ -s "$COMMON/bootstrap" ] \
        || install -m 644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
    if [ ! -e "$SPOOL/spooldb/sge" ]; then
        log "initialising cell (berkeleydb spool)"
        su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL $SPOOL/spooldb sgeadmin" \
            sgeadmin >&2 || die "init_cluster failed"
    fi
    echo "$HOST" > "$COMMON/act_qmaster"
    local aliases="" canon ip rev
    canon=$("$UTIL/gethostbyname" -aname "$HOST" 2>/dev/null || true)
    [ -n "$canon" ] && [ "$canon" != "$HOST" ] && aliases="$aliases $canon"
    for ip in $(getent ahostsv4 "$HOST" | awk '{print $1}' | sort -u); do
        rev=$("$UTIL/gethostbyaddr" -name "$ip" 2>/dev/null || true)
        if [ -n "$rev" ] && [ "$rev" != "$HOST" ]; then
            case " $aliases " in *" $rev "*) ;; *) aliases="$aliases $rev" ;; esac
        fi
    done
    if [ -n "$aliases" ]; then echo "$HOST$aliases" > "$COMMON/host_aliases"; else rm -f "$COMMON/host_aliases"; fi
    chown sgeadmin:sgeadmin "$COMMON/act_qmaster" 2>/dev/null || true
    [ -e "$COMMON/host_aliases" ] && chown sgeadmin:sgeadmin "$COMMON/host_aliases"

    # Jobs inherit sge_execd's environment: start the daemons with a minimal
    # one, not the caller's (jobs get the submitter's variables with -V / -v).
    local daemon_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                      LANG=C.UTF-8 SGE_ROOT="$SGE_ROOT" SGE_CELL="$SGE_CELL")
    local qpid epid
    # a recorded daemon that has died leaves a stale record
    ours qmaster >/dev/null || rm -f "$STATE_DIR/qmaster.rec"
    ours execd >/dev/null || rm -f "$STATE_DIR/execd.rec"

    # ---- 4. qmaster
    if qpid=$(pid_in_file "$SPOOL/qmaster/qmaster.pid" "$QMASTER_EXE"); then
        if ours qmaster >/dev/null; then
            log "sge_qmaster already running (pid $qpid)"
        else
            log "WARNING: sge_qmaster pid $qpid was not started by sge.sh: using it, but 'stop' will leave it alone"
        fi
    else
        log "starting sge_qmaster"
        (cd / && "${daemon_env[@]}" /usr/sbin/sge_qmaster) >&2 || die "sge_qmaster failed to start"
        wait_for "$wait" "sge_qmaster pid file" pid_in_file "$SPOOL/qmaster/qmaster.pid" "$QMASTER_EXE"
        qpid=$(pid_in_file "$SPOOL/qmaster/qmaster.pid" "$QMASTER_EXE")
        record qmaster "$qpid" "$QMASTER_EXE"
    fi
    wait_for "$wait" "qmaster answering qconf -sh" qmaster_answers
    log "qmaster up (pid $qpid)"

    # ---- 5. configuration, all through qconf -M*/-A* with files
    local cfg
    cfg=$(mktemp -d)
    CFG_DIR=$cfg
    join_lines() { sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta'; }
    setp() {   # setp FILE KEY VALUE...: set KEY in a "key value" qconf file
        local f=$1 k=$2; shift 2
        if grep -q "^${k}[[:space:]]" "$f"; then sed -i "s|^${k}[[:space:]].*|$k $*|" "$f"; else echo "$k $*" >> "$f"; fi
    }
    qput() {   # qput KIND NAME FILE: modify if NAME exists, else add (KIND: p, hgrp, q, e)
        local kind=$1 name=$2 file=$3 out
        if qconf "-s$kind" "$name" >/dev/null 2>&1; then
            out=$(qconf "-M$kind" "$file" 2>&1) || die "qconf -M$kind $name failed: $out"
        else
            out=$(qconf "-A$kind" "$file" 2>&1) || die "qconf -A$kind $name failed: $out"
        fi
    }

    # admin host (the qmaster host is one already) and submit host
    has_line "$HOST" qconf -sh || qconf -ah "$HOST" >&2
    has_line "$HOST" qconf -ss || qconf -as "$HOST" >&2

    # global config: must be in place BEFORE sge_execd starts (the execd
    # caches it: a root job run with the stale min_uid/min_gid 1000 fails
    # with "failed 11: before job" and puts the queue into state E)
    qconf -sconf global | join_lines > "$cfg/global"
    setp "$cfg/global" min_uid 0                       # root may submit and run jobs
    setp "$cfg/global" min_gid 0
    setp "$cfg/global" shell_start_mode unix_behavior  # honour the #! line
    setp "$cfg/global" load_report_time 00:00:05
    setp "$cfg/global" max_unheard 00:01:00
    # accounting_flush_time 0: qacct has a job's record as soon as it left qstat
    setp "$cfg/global" reporting_params "accounting=true reporting=false flush_time=00:00:15 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00"
    setp "$cfg/global" execd_params "ENABLE_ADDGRP_KILL=TRUE"
    local out
    out=$(qconf -Mconf "$cfg/global" 2>&1) || die "qconf -Mconf global failed: $out"

    # scheduler: run every second and 1 s after a submit / job end (default 15 s)
    qconf -ssconf | join_lines > "$cfg/sched"
    setp "$cfg/sched" schedule_interval 0:0:1
    setp "$cfg/sched" flush_submit_sec 1
    setp "$cfg/sched" flush_finish_sec 1
    out=$(qconf -Msconf "$cfg/sched" 2>&1) || die "qconf -Msconf failed: $out"

    # h_vmem: requestable, consumable per slot (a -pe smp N job uses N times
    # the request), host capacity $mem.  The request is also the job's limit
    # (RLIMIT_AS: allocations beyond it fail).  A job without -l h_vmem gets
    # the complex's default as implicit request AND limit: with default 0 the
    # limit becomes 10 MiB and not even python3 starts, so the default is a
    # per-slot share of the host memory.
    qconf -sc > "$cfg/complex"
    awk -v d="$vmem_default" '$1 == "h_vmem" { $5 = "YES"; $6 = "YES"; $7 = d; $8 = "0" } { print }' \
        "$cfg/complex" > "$cfg/complex.new"
    if ! cmp -s <(awk '$1=="h_vmem"' "$cfg/complex") <(awk '$1=="h_vmem"' "$cfg/complex.new"); then
        out=$(qconf -Mc "$cfg/complex.new" 2>&1) || die "qconf -Mc failed: $out"
    fi

    cat > "$cfg/pe" <<EOF
pe_name            $PE
slots              9999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
    qput p "$PE" "$cfg/pe"

    printf 'group_name @allhosts\nhostlist %s\n' "$HOST" > "$cfg/hgrp"
    qput hgrp @allhosts "$cfg/hgrp"

    # exec host entry before the execd registers: host capacity for h_vmem
    cat > "$cfg/exechost" <<EOF
hostname              $HOST
load_scaling          NONE
complex_values        h_vmem=$mem
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
EOF
    qput e "$HOST" "$cfg/exechost"

    qconf -sq | join_lines > "$cfg/queue"             # the built-in template
    setp "$cfg/queue" qname "$QUEUE"
    setp "$cfg/queue" hostlist @allhosts
    setp "$cfg/queue" slots "$slots"
    setp "$cfg/queue" load_thresholds NONE            # never "a"(larm) on a busy CI box
    setp "$cfg/queue" pe_list "$PE"                   # template names make/smp/mpi, which do not exist
    setp "$cfg/queue" shell /bin/bash
    setp "$cfg/queue" shell_start_mode unix_behavior
    setp "$cfg/queue" tmpdir /tmp
    qput q "$QUEUE" "$cfg/queue"
    log "configured: queue $QUEUE ($slots slots), PE $PE, h_vmem consumable (host $mem, default $vmem_default per slot)"

    # ---- 6. execd
    if epid=$(execd_running); then
        if ours execd >/dev/null; then
            log "sge_execd already running (pid $epid)"
        else
            log "WARNING: sge_execd pid $epid was not started by sge.sh: using it, but 'stop' will leave it alone"
        fi
    else
        log "starting sge_execd"
        (cd / && "${daemon_env[@]}" /usr/sbin/sge_execd) >&2 || die "sge_execd failed to start"
        wait_for "$wait" "sge_execd pid file" execd_running
        epid=$(execd_running) || die "sge_execd pid file vanished"
        record execd "$epid" "$EXECD_EXE"
    fi
    log "execd up (pid $epid)"

    # ---- 7. queue instance ready; clear a leftover error state once
    local end line cleared=0
    end=$(( $(date +%s) + wait ))
    until queue_ok; do
        line=$(queue_line)
        if [ "$cleared" = 0 ] && [ -n "$line" ] && [[ $(awk '{print $6}' <<<"$line") == *E* ]]; then
            log "queue instance in error state, clearing it (qmod -cq)"
            qmod -cq "$QUEUE@$HOST" >/dev/null 2>&1 || true
            cleared=1
        fi
        [ "$(date +%s)" -lt "$end" ] || die "timed out after ${wait}s waiting for $QUEUE@$HOST without state flags: '${line}'"
        sleep 0.2
    done
    log "queue $QUEUE@$HOST ready"

    # ---- 8. smoke job
    if [ "$smoke" = 1 ]; then
        local ts
        ts=$(date +%s.%N)
        out=$(cd /tmp && timeout "$wait" qsub -sync y -b y -N sge_smoke -o /dev/null -j y /bin/true 2>&1) \
            || die "smoke job failed: $out"
        log "smoke job ok in $(since "$ts")s: ${out##*$'\n'}"
    fi

    write_env_file "$slots" "$mem" "$vmem_default"
    echo "$want" > "$STATE_DIR/config"
    log "cell ready in $(since "$T0")s: qmaster pid $qpid, execd pid $epid, host $HOST, queue $QUEUE ($slots slots), PE $PE; env file $ENV_FILE"
    echo "$ENV_FILE"
}

# =================================================================== stop
descendants() {   # live descendants of $1 as "pid:starttime", deepest first
    local s line
    for s in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null < "$s" && printf '%s\n' "$line"
    done | awk -v root="$1" '{
            pid = $1; rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
            if (f[1] == "Z") next
            ppid[pid] = f[2]; st[pid] = f[20]; pids[++n] = pid }
        END {
            for (i = 1; i <= n; i++) {
                p = pids[i]; d = 0; q = p
                while ((q in ppid) && q != root && d < 64) { q = ppid[q]; d++ }
                if (q == root && p != root) print d, p ":" st[p]
            } }' | sort -rn | cut -d' ' -f2
}
stop_pid() {   # stop_pid PID NAME TIMEOUT: SIGTERM, wait, then SIGKILL
    local pid=$1 name=$2 t=$3 st i
    st=$(starttime "$pid")
    [ -n "$st" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < t * 5; i++)); do
        if [ "$(starttime "$pid")" != "$st" ]; then
            log "$name (pid $pid) exited after SIGTERM ($((i / 5)).$((i % 5 * 2))s)"
            return 0
        fi
        sleep 0.2
    done
    log "$name (pid $pid) still alive after ${t}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
}
cmd_stop() {
    local keep_jobs=0 purge=0 qpid epid tree e p st left="" d i
    for a in "$@"; do
        case $a in --keep-jobs) keep_jobs=1 ;; --purge) purge=1 ;; *) usage ;; esac
    done
    [ "$(id -u)" = 0 ] || die "must run as root"
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/lock"
    flock -w 900 9 || die "could not lock $STATE_DIR/lock"
    qpid=$(ours qmaster) || qpid=""
    epid=$(ours execd) || epid=""
    log "started by sge.sh and alive: qmaster ${qpid:-none}, execd ${epid:-none}"

    # 1. delete every job while the daemons can still do it cleanly
    if [ -n "$qpid" ] && [ -n "$epid" ] && [ "$keep_jobs" = 0 ] && [ -n "$(qstat -u '*' 2>/dev/null)" ]; then
        # a plain qdel first: running jobs are killed and get an honest qacct
        # record (failed 100, exit_status 137); qdel -f of a running job
        # records failed 0 / exit_status 0.  qdel -f only for what is left.
        log "qdel all jobs"
        timeout 30 qdel -u '*' >/dev/null 2>&1 || true
        for ((i = 0; i < 50; i++)); do
            [ -z "$(qstat -u '*' 2>/dev/null)" ] && break
            sleep 0.2
        done
        if [ -n "$(qstat -u '*' 2>/dev/null)" ]; then
            log "qdel -f the remaining jobs"
            timeout 30 qdel -f -u '*' >/dev/null 2>&1 || true
            for ((i = 0; i < 50; i++)); do
                [ -z "$(qstat -u '*' 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    # 2. execd, then what survived of its tree (sge_shepherd -> job processes:
    #    they keep running after the execd exits, by design)
    if [ -n "$epid" ]; then
        tree=$(descendants "$epid")
        stop_pid "$epid" sge_execd 15
        for e in $tree; do
            p=${e%%:*}; st=${e#*:}
            if [ -n "$st" ] && [ "$(starttime "$p")" = "$st" ]; then
                log "killing leftover execd descendant $p ($(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-60))"
                kill -KILL "$p" 2>/dev/null || true
            fi
        done
        rm -f "$STATE_DIR/execd.rec"
    fi
    # 3. qmaster (a controlled shutdown takes ~7-9 s)
    if [ -n "$qpid" ]; then
        stop_pid "$qpid" sge_qmaster 30
        rm -f "$STATE_DIR/qmaster.rec"
    fi
    # 4. report (never kill) any other Grid Engine process still around
    for d in /proc/[0-9]*; do
        case $(readlink "$d/exe" 2>/dev/null) in /usr/lib/gridengine/*) left="$left ${d#/proc/}" ;; esac
    done
    [ -n "$left" ] && log "WARNING: Grid Engine processes not started by sge.sh are still running (left alone):$left"
    # 5. optionally wipe the cell's state
    if [ "$purge" = 1 ]; then
        if [ -n "$left" ]; then
            log "not purging: other Grid Engine processes are running"
        else
            log "purging cell state ($SPOOL/{qmaster,spooldb,execd}, $SGE_ROOT/$SGE_CELL, $STATE_DIR)"
            rm -rf "${SPOOL:?}/qmaster" "${SPOOL:?}/spooldb" "${SPOOL:?}/execd" "${SGE_ROOT:?}/${SGE_CELL:?}"
            rm -f "$STATE_DIR/config" "$STATE_DIR"/*.rec "$ENV_FILE"
        fi
    fi
    rm -f "$STATE_DIR/config"   # next start re-applies the configuration
    log "stopped"
    [ -z "$left" ]
}

case $CMD in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h|--help|help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
esac
