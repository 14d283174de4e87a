#!/usr/bin/env bash
# htcondor.sh - a real single-node HTCondor pool on this machine, for
# development and CI tests of distributor.  No systemd needed.  Run as root.
#
#   htcondor.sh start  [--suite trixie|sid] [--cpus N] [--bind DIR]... [--no-smoke] [--no-install] [--wait SECONDS]
#   htcondor.sh stop   [--keep-jobs] [--purge] [--uninstall]
#   htcondor.sh status [--quiet]
#
# Debian 12 has no HTCondor package and Debian 13's needs a newer libc, so
# start builds a Debian chroot with mmdebstrap from the registry this host's
# apt uses (trixie: condor + minicondor 23.9.6, the default; sid: 25.14.1),
# one to two minutes (more on a busy machine) and 0.3 GB, the first time only, and runs
# condor_master -f there in a private mount namespace, on 127.0.0.1 only.
# Host directories are bind-mounted at the same paths inside (only in that
# namespace): the temporary directory, this checkout, the prefix of the python3
# that venvs are made from (when it is not under /usr) and each --bind DIR; a
# running pool gets missing binds added.  Then it waits for the schedd and a
# slot and runs a smoke job.
# Idempotent: on a healthy pool it only checks (and adds binds), about 1-2 s.
# Prints the env file path on stdout (progress goes to stderr).
#
# HTCondor refuses jobs owned by root, so everything submits as the pool's job
# user (distributor, uid 2001, only inside the chroot):
#   STATE/bin/condor_*   the pool's own tools, run inside it as the job user
#   STATE/bin/pool-exec  any command inside the pool as the job user, in the
#                        caller's directory and environment: a submit host
#                        (pool-exec python -m pytest plugins/distributor-htcondor)
# stop    condor_rm -all (unless --keep-jobs), SIGTERM to the recorded
#         condor_master (checked by start time, mount namespace and root),
#         then SIGKILL to what is left in its namespace; nothing is found by
#         name.  --purge also wipes spool, logs and execute directories;
#         --uninstall deletes the state directory with the chroots.
# status  exit 0 if our condor_master runs, the schedd answers and a slot is
#         advertised; 3 if it runs but is not healthy (yet); 1 if it does not run.
#
# Environment knobs: DISTRIBUTOR_HTCONDOR_STATE_DIR (default
# /var/lib/distributor-htcondor; never below a bound directory),
# DISTRIBUTOR_HTCONDOR_SUITE (trixie), DISTRIBUTOR_HTCONDOR_BINDS (more host
# directories, space-separated), PYTHON (python3: whose prefix is bound).
# Clients (root): . STATE/env.sh  (PATH gets STATE/bin; DISTRIBUTOR_HTCONDOR_*)
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/../.." && pwd)
STATE=${DISTRIBUTOR_HTCONDOR_STATE_DIR:-/var/lib/distributor-htcondor}
STATE=${STATE%/}
REC=$STATE/master.rec        # "PID STARTTIME MNTNS ROOT" of the condor_master we started
INFO=$STATE/pool.info        # suite=, version=, binds= of the pool that runs
ENV_FILE=$STATE/env.sh
BIN=$STATE/bin
JOB_USER=distributor
JOB_UID=2001
WRAPPED="condor_submit condor_q condor_history condor_rm condor_hold condor_release
condor_status condor_qedit condor_wait condor_version condor_config_val condor_who
condor_off condor_on condor_restart"
CMD=${1:-}
[ $# -gt 0 ] && shift
T0=$(date +%s.%N)

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log()   { printf '[htcondor.sh %s %5ss] %s\n' "$CMD" "$(since "$T0")" "$*" >&2; }
die()   { log "ERROR: $*"; exit 1; }
usage() { sed -n '6,8p' "$SELF" | sed 's/^# *//' >&2; exit 2; }
wait_for() {   # wait_for SECONDS WHAT CMD...: poll CMD every 0.2 s
    local limit=$1 what=$2; shift 2
    local end=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || die "timed out after ${limit}s waiting for: $what"
        sleep 0.2
    done
}
# start time (field 22 of /proc/PID/stat) of a live, non-zombie process
starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '$1 != "Z" {print $20}'; }
# ours: print the recorded master's pid if that very process is alive
ours() {
    local pid st ns root
    [ -r "$REC" ] || return 1
    read -r pid st ns root < "$REC" || return 1
    [ -n "$pid" ] && [ -n "$st" ] && [ "$(starttime "$pid")" = "$st" ] || return 1
    [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$ns" ] || return 1
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] || return 1
    echo "$pid"
}
info() { sed -n "s/^$1=//p" "$INFO" 2>/dev/null; }
# every live process in the mount namespace of the record (ours by construction)
in_ns() {
    local ns p
    ns=$(awk '{print $3}' "$REC" 2>/dev/null)
    [ -n "$ns" ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] || continue
        [ -n "$(starttime "${p#/proc/}")" ] && echo "${p#/proc/}"
    done
    return 0
}
# run a command inside the running pool (mount namespace + chroot), as root / as the job user
inpool() {
    local pid; pid=$(ours) || return 1
    nsenter -t "$pid" -m -r -w -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
asuser() { inpool /usr/sbin/runuser -u "$JOB_USER" -- "$@"; }
schedd_ready() { asuser condor_q -totals >/dev/null 2>&1; }
slot_ready()   { [ -n "$(asuser condor_status -af Name 2>/dev/null)" ]; }
# host mounts below a directory (there must be none before anything is removed there)
mounts_below() { awk -v d="$1/" 'index($5 "/", d) == 1 {print $5}' /proc/self/mountinfo; }

# ================================================================= status
cmd_status() {
    local quiet=0 pid rc=0
    for a in "$@"; do
        case $a in -q|--quiet) quiet=1 ;; *) usage ;; esac
    done
    say() { [ "$quiet" = 1 ] || echo "$*"; }
    [ "$(id -u)" = 0 ] || { say "status: unknown (htcondor.sh status must run as root)"; return 1; }
    if pid=$(ours); then
        say "condor_master: $pid ($(info version), Debian $(info suite))"
        say "binds:         $(info binds)"
        if schedd_ready; then say "schedd:        answers"; else say "schedd:        does not answer"; rc=3; fi
        if slot_ready; then
            say "slots:         $(asuser condor_status -af Name State Activity | tr '\n' ';')"
        else
            say "slots:         none advertised"; rc=3
        fi
    else
        say "condor_master: not running$( [ -n "$(in_ns)" ] && echo ' (but processes of its namespace are left: stop)')"
        rc=1
    fi
    [ -r "$ENV_FILE" ] && say "env file:      $ENV_FILE"
    case $rc in
        0) say "status:        up" ;;
        3) say "status:        running, not healthy" ;;
        *) say "status:        DOWN" ;;
    esac
    return $rc
}

# =================================================================== stop
cmd_stop() {
    local keep=0 purge=0 uninstall=0 pid left root
    for a in "$@"; do
        case $a in
            --keep-jobs) keep=1 ;;
            --purge) purge=1 ;;
            --uninstall) purge=1; uninstall=1 ;;
            *) usage ;;
        esac
    done
    [ "$(id -u)" = 0 ] || die "must run as root"
    [ -d "$STATE" ] || { log "$STATE does not exist, nothing to stop"; return 0; }
    exec 9>>"$STATE/lock"
    flock -w 900 9 || die "could not lock $STATE/lock"
    gone_within() {   # gone_within SECONDS: until no process is left in the namespace
        local end=$(( $(date +%s) + $1 ))
        while [ -n "$(in_ns)" ]; do
            [ "$(date +%s)" -lt "$end" ] || return 1
            sleep 0.2
        done
    }
    if pid=$(ours); then
        if [ "$keep" = 0 ]; then
            log "condor_rm -all (as $JOB_USER)"
            asuser condor_rm -all >/dev/null 2>&1 || true
        fi
        log "SIGTERM to condor_master $pid (graceful shutdown of all daemons)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! gone_within 30; then
            log "still running after 30 s: SIGQUIT (fast shutdown)"
            kill -QUIT "$pid" 2>/dev/null || true
            gone_within 10 || true
        fi
    elif [ -n "$(in_ns)" ]; then
        log "condor_master is gone but processes of its namespace remain"
    fi
    left=$(in_ns | tr '\n' ' ')
    if [ -n "$left" ]; then
        log "SIGKILL to the namespace's remaining processes: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        gone_within 10 || die "processes of the pool's namespace survive SIGKILL: $(in_ns | tr '\n' ' ')"
    fi
    rm -f "$REC" "$INFO"
    log "no HTCondor process left"
    if [ "$purge" = 1 ]; then
        for root in "$STATE"/*/; do
            root=${root%/}
            [ -e "$root/.distributor-htcondor" ] || continue
            # the binds lived only in the pool's namespace; refuse if a mount below the
            # chroot is visible here (rm -rf would walk into a host directory)
            [ -z "$(mounts_below "$root")" ] || die "mounts below $root are visible on the host: not removing anything"
            rm -rf "${root:?}"/var/spool/condor/* "${root:?}"/var/log/condor/* "${root:?}"/var/lib/condor/execute/*
            log "purged spool, logs and execute directories of $root"
        done
    fi
    if [ "$uninstall" = 1 ]; then
        [ -z "$(mounts_below "$STATE")" ] || die "mounts below $STATE are visible on the host: not removing it"
        rm -rf "${STATE:?}"
        log "removed $STATE"
    fi
}

# ================================================================== start
# the Debian mirror this host's apt already uses (no host name in this file)
mirror_of() {   # mirror_of SUFFIX: REPO_URI of the host's "<codename><SUFFIX>" suite
    local want; want="$(. /etc/os-release; echo "$VERSION_CODENAME")$1"
    apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null \
        | awk -v w="$want" '$1 == w {print $2; exit}'
}
apt_retry() {   # apt-get with retries while another apt (slurm.sh, sge.sh) holds a lock
    local i
    for ((i = 0; ; i++)); do
        DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@" >&2 && return 0
        [ $i -lt 60 ] || return 1
        log "apt-get $1 failed (a lock held by another apt?), retrying in 5 s"
        sleep 5
    done
}
build_chroot() {   # build_chroot SUITE ROOT
    local suite=$1 root=$2 part=$2.partial main t
    t=$(date +%s.%N)
    if ! command -v mmdebstrap >/dev/null; then
        log "installing mmdebstrap (host package)"
        apt_retry install -y --no-install-recommends mmdebstrap \
            || { apt_retry update && apt_retry install -y --no-install-recommends mmdebstrap; } \
            || die "apt-get install mmdebstrap failed"
    fi
    main=$(mirror_of "")
    if [ -z "$main" ]; then
        apt_retry update || die "apt-get update failed"
        main=$(mirror_of "")
    fi
    [ -n "$main" ] || die "cannot find the host's Debian mirror in apt's index targets"
    [ -z "$(mounts_below "$part")" ] || die "mounts below $part: refusing to remove it"
    rm -rf "$part"
    # one apt run with parallel downloads (debootstrap fetches one file at a time and
    # then needs a second apt run); no fsync per file (a test chroot, rebuilt if torn),
    # no manuals, documentation or translations.  Check-Valid-Until: sid's Release
    # file carries a date that the mirror reached from here had already passed.
    log "mmdebstrap --variant=minbase --include=condor,minicondor $suite (a minute or two)"
    mmdebstrap --variant=minbase --include=condor,minicondor \
        --dpkgopt=force-unsafe-io --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        "$suite" "$part" "$main" >"$STATE/mmdebstrap.log" 2>&1 \
        || { tail -20 "$STATE/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $STATE/mmdebstrap.log)"; }
    chroot "$part" useradd -m -u "$JOB_UID" -s /bin/bash "$JOB_USER"
    chroot "$part" condor_version | head -1 > "$part/.distributor-htcondor"
    mv "$part" "$root"
    log "chroot ready in $(since "$t")s: $(cat "$root/.distributor-htcondor")"
}

write_config() {   # write_config ROOT CPUS: 0 if the file changed
    local conf=$1/etc/condor/config.d/99-distributor.conf tmp
    tmp=$(mktemp "$conf.XXXXXX")
    cat > "$tmp" <<EOF
# written by distributor scripts/dev-clusters/htcondor.sh; 00-minicondor sets the
# single-machine roles and FS authentication.

# condor_master runs linux_kernel_tuning as root by default: it raised the HOST's
# kernel.pid_max, net.ipv4.ip_local_port_range (to 1024-65535),
# fs.pipe-user-pages-soft, vm.dirty_bytes and net.core.rmem_max (a chroot does not
# isolate /proc/sys).  Never here.
ENABLE_KERNEL_TUNING = False
LINUX_KERNEL_TUNING_SCRIPT =

# the starter's private /tmp and /var/tmp need unshare(CLONE_NEWNS), which fails in
# this chroot (jobs held 6/22 "Failed to execute ... (errno=22: 'Invalid argument')");
# a private /tmp would also hide the task directories that tests keep in /tmp.
MOUNT_UNDER_SCRATCH =

# IPv4 loopback only.  trixie's 00-minicondor sets the first three itself; sid's
# has CONDOR_HOST = \$(IP_ADDRESS) and binds every interface.  Without
# ENABLE_IPV6 = False shadow and starter also used an fd00:: address.
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
CONDOR_HOST = 127.0.0.1
ENABLE_IPV6 = False

NUM_CPUS = $2

# the job user may stop and start the schedd (condor_off/condor_on -schedd): the
# plugin's tests ride out a schedd outage
ALLOW_ADMINISTRATOR = \$(ALLOW_ADMINISTRATOR) $JOB_USER@\$(UID_DOMAIN)

# test-speed polling (minicondor: 5 / 2 / 5 / 10; the defaults are minutes)
SCHEDD_INTERVAL = 2
SCHEDD_MIN_INTERVAL = 1
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_MIN_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
STARTER_INITIAL_UPDATE_INTERVAL = 2
STARTER_UPDATE_INTERVAL = 2
SHADOW_QUEUE_UPDATE_INTERVAL = 2
PERIODIC_EXPR_INTERVAL = 2
UPDATE_INTERVAL = 2
EOF
    if [ -e "$conf" ] && cmp -s "$tmp" "$conf"; then rm -f "$tmp"; return 1; fi
    chmod 644 "$tmp"; mv -f "$tmp" "$conf"; return 0
}

write_wrappers() {   # write_wrappers ROOT BINDS
    local tmpd name
    tmpd=$(mktemp -d "$STATE/bin.XXXXXX")
    for name in $WRAPPED; do
        cat > "$tmpd/$name" <<EOF
#!/bin/sh
# made by htcondor.sh: the pool's own $name, run inside its chroot and mount
# namespace as $JOB_USER, in the caller's directory (it must be visible in the pool:
# htcondor.sh start --bind DIR).  Needs root (nsenter).
{ read -r pid st ns root < "$REC"; } 2>/dev/null || { echo "$name: the HTCondor dev pool is not running (no $REC)" >&2; exit 1; }
[ "\$(readlink /proc/\$pid/ns/mnt 2>/dev/null)" = "\$ns" ] || { echo "$name: the HTCondor dev pool is not running" >&2; exit 1; }
exec nsenter -t "\$pid" -m -r -w -- /usr/sbin/runuser -u $JOB_USER -- /usr/bin/env -i \\
    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/$JOB_USER LANG=C.UTF-8 \${TZ:+TZ="\$TZ"} \\
    /bin/sh -c 'cd "\$1" 2>/dev/null || cd /; shift; exec "\$@"' sh "\$PWD" $name "\$@"
EOF
        chmod 755 "$tmpd/$name"
    done
    cat > "$tmpd/pool-exec" <<EOF
#!/bin/sh
# made by htcondor.sh: run a command inside the HTCondor dev pool (its chroot and mount
# namespace) as $JOB_USER, in the caller's directory, with the caller's environment
# (HOME, USER, LOGNAME set for $JOB_USER): a submit host.  Needs root.
{ read -r pid st ns root < "$REC"; } 2>/dev/null || { echo "pool-exec: the HTCondor dev pool is not running (no $REC)" >&2; exit 1; }
[ "\$(readlink /proc/\$pid/ns/mnt 2>/dev/null)" = "\$ns" ] || { echo "pool-exec: the HTCondor dev pool is not running" >&2; exit 1; }
[ \$# -gt 0 ] || { echo "usage: pool-exec COMMAND [ARG...]" >&2; exit 2; }
exec nsenter -t "\$pid" -m -r -w -- /usr/sbin/runuser -u $JOB_USER -- /usr/bin/env \\
    HOME=/home/$JOB_USER USER=$JOB_USER LOGNAME=$JOB_USER \\
    /bin/sh -c 'cd "\$1" 2>/dev/null || { echo "pool-exec: \$1 is not visible in the pool (htcondor.sh start --bind DIR)" >&2; exit 1; }; shift; exec "\$@"' sh "\$PWD" "\$@"
EOF
    chmod 755 "$tmpd/pool-exec"
    rm -rf "$BIN"; mv "$tmpd" "$BIN"
    cat > "$ENV_FILE.tmp" <<EOF
# HTCondor dev pool made by scripts/dev-clusters/htcondor.sh - source this file (as root).
export PATH="$BIN:\$PATH"
export DISTRIBUTOR_HTCONDOR_STATE_DIR="$STATE"
export DISTRIBUTOR_HTCONDOR_ROOT="$1"
export DISTRIBUTOR_HTCONDOR_USER="$JOB_USER"
export DISTRIBUTOR_HTCONDOR_UID="$JOB_UID"
export DISTRIBUTOR_HTCONDOR_POOL_EXEC="$BIN/pool-exec"
EOF
    chmod 644 "$ENV_FILE.tmp"; mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

# check_bind ROOT DIR: may DIR be bound into the chroot? (prints nothing; dies if not)
check_bind() {
    local root=$1 d=$2 p
    case $d in /*) ;; *) die "bind $d: not an absolute path" ;; esac
    case "$STATE/" in "${d%/}/"*) die "bind $d would contain the pool's own state directory $STATE" ;; esac
    # never hide the chroot's own files (its /home, /var/lib, /usr ...)
    [ -z "$(ls -A "$root$d" 2>/dev/null)" ] || die "bind $d would hide the chroot's non-empty $d"
    chroot "$root" mkdir -p "$d"   # inside: its /var/run, /var/lock are absolute symlinks
    # let the job user traverse the chroot's own parents (its /root is 0700)
    p=$(dirname "$d"); while [ "$p" != / ]; do chroot "$root" chmod o+x "$p"; p=$(dirname "$p"); done
}

cmd_start() {
    local suite=${DISTRIBUTOR_HTCONDOR_SUITE:-trixie} cpus smoke=1 install=1 wait=120
    local extra=${DISTRIBUTOR_HTCONDOR_BINDS:-} root binds="" d b pid changed=0 pybase tmpdir
    cpus=$(nproc)
    while [ $# -gt 0 ]; do
        case $1 in
            --suite) suite=${2:?}; shift ;;
            --suite=*) suite=${1#--suite=} ;;
            --cpus) cpus=${2:?}; shift ;;
            --bind) extra="$extra ${2:?}"; shift ;;
            --bind=*) extra="$extra ${1#--bind=}" ;;
            --no-smoke) smoke=0 ;;
            --no-install) install=0 ;;
            --wait) wait=${2:?}; shift ;;
            *) usage ;;
        esac
        shift
    done
    [[ $suite =~ ^[a-z]+$ ]] || die "--suite must be a Debian suite name (trixie, sid)"
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer"
    [[ $wait =~ ^[1-9][0-9]*$ ]] || die "--wait must be a positive integer"
    [ "$(id -u)" = 0 ] || die "must run as root"
    root=$STATE/$suite
    mkdir -p "$STATE"
    exec 9>>"$STATE/lock"
    flock -w 900 9 || die "could not lock $STATE/lock"

    # ---- the directories jobs and submitters see at the same path
    tmpdir=$(dirname "$(mktemp -u)")
    pybase=$("${PYTHON:-python3}" -c "import sys; print(sys.base_prefix)" 2>/dev/null || true)
    case "$pybase" in /usr|/usr/*|"") pybase="" ;; esac
    for d in $tmpdir $REPO $pybase $extra; do
        d=$(realpath -m "$d")
        [ -d "$d" ] || { log "bind $d: no such directory on the host, skipped"; continue; }
        for b in $binds; do case "$d/" in "$b/"*) continue 2 ;; esac; done   # below another bind
        binds="$binds $d"
    done
    binds=${binds# }

    # ---- the chroot
    if [ ! -e "$root/.distributor-htcondor" ]; then
        [ "$install" = 1 ] || die "no chroot at $root (and --no-install given)"
        if pid=$(ours); then die "a pool of Debian $(info suite) runs (pid $pid): stop it first"; fi
        build_chroot "$suite" "$root"
    fi
    chroot "$root" id -u "$JOB_USER" >/dev/null 2>&1 || chroot "$root" useradd -m -u "$JOB_UID" -s /bin/bash "$JOB_USER"
    write_config "$root" "$cpus" && changed=1
    cp /etc/hosts "$root/etc/hosts"          # this host's name -> 127.0.0.1
    mkdir -p "$root/run/condor" "$root/run/lock/condor"   # (no systemd-tmpfiles)
    chroot "$root" chown condor:condor /run/condor /run/lock/condor /var/log/condor /var/lib/condor

    # ---- the pool
    if pid=$(ours); then
        [ "$(info suite)" = "$suite" ] || die "a pool of Debian $(info suite) runs (pid $pid): stop it first"
        log "condor_master already running (pid $pid)"
        if [ "$changed" = 1 ]; then log "configuration changed: condor_reconfig"; inpool condor_reconfig >&2; fi
        if [ "$(asuser condor_status -af 'int(TotalCpus)' 2>/dev/null | head -1)" != "$cpus" ]; then
            # NUM_CPUS takes effect only when the startd starts (its running jobs are requeued)
            log "slots of $cpus CPUs wanted: condor_restart -startd"
            inpool condor_restart -startd >&2
            cpus_ready() { [ "$(asuser condor_status -af 'int(TotalCpus)' 2>/dev/null | head -1)" = "$cpus" ]; }
            wait_for "$wait" "the startd to advertise $cpus CPUs" cpus_ready
        fi
        # add the binds the running pool lacks, inside its namespace only
        for d in $binds; do
            awk -v d="$d" '$5 == d {found = 1} END {exit !found}' "/proc/$pid/mountinfo" && continue
            check_bind "$root" "$d"
            nsenter -t "$pid" -m -- mount --bind "$d" "$root$d" || die "cannot bind $d into the running pool"
            log "bound $d into the running pool"
        done
        binds=$(awk -v r="$root" '$5 != "/" && $5 !~ "^/(proc|dev)(/|$)" {print $5}' "/proc/$pid/mountinfo" | tr '\n' ' ')
        binds=${binds% }
    else
        if [ -n "$(in_ns)" ]; then
            die "processes of a previous pool are still running ($(in_ns | tr '\n' ' ')): run htcondor.sh stop first"
        fi
        rm -f "$REC" "$INFO"
        local bind_script=""
        for d in $binds; do
            check_bind "$root" "$d"
            bind_script="$bind_script mount --bind '$d' '$root$d';"
        done
        log "starting condor_master (binds: $binds)"
        # condor_master -f stays in the foreground: $! is its pid, and its mount
        # namespace (with the binds) lives exactly as long as the pool's processes
        setsid unshare -m --propagation private bash -c "
            set -e; r='$root'
            mount -t proc proc \"\$r/proc\"
            mount --rbind /dev \"\$r/dev\"
            $bind_script
            exec chroot \"\$r\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /usr/sbin/condor_master -f
        " </dev/null >>"$STATE/master.out" 2>&1 9>&- &
        pid=$!
        for _ in $(seq 100); do   # until the exec into the chroot happened
            [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && break
            kill -0 "$pid" 2>/dev/null || die "condor_master exited at once: $(tail -5 "$STATE/master.out")"
            sleep 0.05
        done
        echo "$pid $(starttime "$pid") $(readlink "/proc/$pid/ns/mnt") $root" > "$REC"
        ours >/dev/null || die "condor_master did not start: $(tail -5 "$STATE/master.out")"
        log "condor_master pid $pid"
    fi
    printf 'suite=%s\nversion=%s\nbinds=%s\n' "$suite" "$(cat "$root/.distributor-htcondor")" "$binds" > "$INFO"
    write_wrappers "$root"
    wait_for "$wait" "the schedd to answer condor_q" schedd_ready
    wait_for "$wait" "a slot in condor_status" slot_ready
    log "pool up: $(asuser condor_status -af Name Cpus Memory State | tr '\n' ';')"

    # ---- smoke job: the description on stdin, run in /, so it needs no bound directory
    if [ "$smoke" = 1 ]; then
        local out cl
        out=$(printf 'executable = /bin/true\nuniverse = vanilla\ntransfer_executable = false\ninitialdir = /\nqueue\n' \
              | "$BIN/condor_submit" 2>&1) || die "smoke submit failed: $out"
        cl=$(sed -n 's/.* submitted to cluster \([0-9]*\)\./\1/p' <<<"$out")
        [ -n "$cl" ] || die "smoke submit printed no cluster: $out"
        smoke_done() { [ "$("$BIN/condor_history" -af JobStatus ExitCode -limit 1 "$cl.0" 2>/dev/null)" = "4 0" ]; }
        wait_for "$wait" "smoke job $cl.0 to complete" smoke_done
        log "smoke job $cl.0 completed"
    fi
    log "ready: $(info version); clients: . $ENV_FILE"
    echo "$ENV_FILE"
}

case $CMD in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h|--help|help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
esac
