#!/usr/bin/env bash
# slurm.sh - throw-away single-node Slurm 22.05 cluster on loopback for
# development and tests of distributor.  No systemd needed; must run as root.
# Tested on Debian 12 (Slurm 22.05.8, MariaDB 10.11, munge 0.5.15).
#
# usage: slurm.sh start  [options] [DIR]    install packages if missing, start
#                                           munged, mariadbd, slurmdbd,
#                                           slurmctld, slurmd; wait for the node
#                                           and a smoke job; write DIR/env.sh
#        slurm.sh stop   [--purge] [DIR]    cancel jobs, stop our daemons
#        slurm.sh status [DIR]              exit 0 iff up and healthy
#   DIR defaults to $DISTRIBUTOR_SLURM_DIR or /tmp/distributor-slurm.
#
# start options:
#   --dbd          (default) private MariaDB + slurmdbd, so sacct works
#   --no-dbd       no accounting DB: sacct does not work; finished jobs only in
#                  squeue -t all / scontrol (MinJobAge) and DIR/log/jobcomp.txt
#   --cgroup=auto  (default) proctrack+task cgroup with ConstrainRAMSpace if the
#                  host allows it (proved by the smoke job), else fall back to
#   --cgroup=no    proctrack/linuxproc + task/none + OverMemoryKill
#   --cgroup=yes   cgroup mode or fail
#   --cpus N       advertise N CPUs (may exceed the real ones)
#   --restart      stop a cluster already running from DIR and start afresh
#   --no-install   never call apt-get
#
# Idempotent: when the cluster of DIR is already up and healthy, start only
# prints the export line (exit 0).  A half-started cluster of DIR is stopped
# first.  Every (re)start begins with empty state: job ids start at 1, new DB.
# Clients need:   . DIR/env.sh     (= export SLURM_CONF=DIR/etc/slurm.conf)
# stdout of start: only the line "export SLURM_CONF=..."; progress goes to stderr.
#
# Environment: DISTRIBUTOR_SLURM_CTLD_PORT (6817) _SLURMD_PORT (6818)
#   _DBD_PORT (6819) _DB_PORT (3307, bound to 127.0.0.1) _NODENAME (hostname -s)
#   _CLUSTER (devcluster) _TIMEOUT (60 s for the node to get idle)
#   _MINJOBAGE (600) _MAX_ARRAY_SIZE (1001, i.e. largest index 1000)
#   _MEMORY (MiB, default from slurmd -C) _EXTRA_CONF / _CGROUP_EXTRA_CONF
#   (lines appended to slurm.conf / cgroup.conf); each with the prefix
#   DISTRIBUTOR_SLURM, e.g. DISTRIBUTOR_SLURM_CTLD_PORT.
#
# Ports: slurmctld 6817, slurmd 6818, slurmdbd 6819, mariadbd 3307.  Nothing is
# written to /etc/slurm, /etc/munge or /var/lib/mysql; the Debian services are
# not used.  stop only signals PIDs from DIR/run/*.pid whose /proc/PID/exe is
# the expected program.
set -Eeuo pipefail

PROG=slurm.sh
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
T0=$(date +%s.%N)
export PATH=$PATH:/usr/sbin:/sbin
# user settings for the Slurm clients (SQUEUE_FORMAT, SBATCH_*, ...) or a
# surrounding Slurm job must not change what this script sees
for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SACCT|SCONTROL)_' || true); do
  unset "$v"
done

elapsed() { awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN{printf "%.2f", a-b}'; }
log() { printf '[%s %6ss] %s\n' "$PROG" "$(elapsed)" "$*" >&2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; }

# ------------------------------------------------------------ arguments
CMD=${1:-}
[ $# -gt 0 ] && shift
case "$CMD" in
  start|stop|status) ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; echo "$PROG: unknown or missing command '${CMD}' (start|stop|status)" >&2; exit 2 ;;
esac
WITH_DBD=1 CGROUP=auto CPUS_OVERRIDE="" RESTART=0 INSTALL=1 PURGE=0 DIR=""
while [ $# -gt 0 ]; do
  case "$CMD:$1" in
    start:--dbd) WITH_DBD=1 ;;
    start:--no-dbd) WITH_DBD=0 ;;
    start:--cgroup) CGROUP=yes ;;
    start:--cgroup=*) CGROUP=${1#--cgroup=} ;;
    start:--no-cgroup) CGROUP=no ;;
    start:--cpus) [ $# -ge 2 ] || { echo "$PROG: --cpus needs a value" >&2; exit 2; }; CPUS_OVERRIDE=$2; shift ;;
    start:--cpus=*) CPUS_OVERRIDE=${1#--cpus=} ;;
    start:--restart) RESTART=1 ;;
    start:--no-install) INSTALL=0 ;;
    stop:--purge) PURGE=1 ;;
    *:-h|*:--help) usage; exit 0 ;;
    *:-*) echo "$PROG: unknown option $1 for $CMD" >&2; exit 2 ;;
    *) [ -z "$DIR" ] || { echo "$PROG: more than one DIR given" >&2; exit 2; }; DIR=$1 ;;
  esac
  shift
done
case "$CGROUP" in auto|yes|no) ;; *) echo "$PROG: --cgroup=auto|yes|no" >&2; exit 2 ;; esac
case "$CPUS_OVERRIDE" in ''|[1-9]|[1-9][0-9]|[1-9][0-9][0-9]) ;; *) echo "$PROG: bad --cpus '$CPUS_OVERRIDE'" >&2; exit 2 ;; esac

DIR=${DIR:-${DISTRIBUTOR_SLURM_DIR:-/tmp/distributor-slurm}}
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac
DIR=${DIR%/}; [ -n "$DIR" ] || { echo "$PROG: DIR must not be /" >&2; exit 2; }
CTLD_PORT=${DISTRIBUTOR_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${DISTRIBUTOR_SLURM_SLURMD_PORT:-6818}
DBD_PORT=${DISTRIBUTOR_SLURM_DBD_PORT:-6819}
DB_PORT=${DISTRIBUTOR_SLURM_DB_PORT:-3307}
NODE=${DISTRIBUTOR_SLURM_NODENAME:-$(hostname -s 2>/dev/null || true)}; NODE=${NODE:-localhost}
CLUSTER=${DISTRIBUTOR_SLURM_CLUSTER:-devcluster}
TIMEOUT=${DISTRIBUTOR_SLURM_TIMEOUT:-60}
MINJOBAGE=${DISTRIBUTOR_SLURM_MINJOBAGE:-600}
MAX_ARRAY_SIZE=${DISTRIBUTOR_SLURM_MAX_ARRAY_SIZE:-1001}
export SLURM_CONF=$DIR/etc/slurm.conf
MUNGE_SOCK=$DIR/munge/munge.socket
DB_SOCK=$DIR/db/mysqld.sock

# ------------------------------------------------------------ helpers
# pid_of NAME EXE: pid from DIR/run/NAME.pid if alive and /proc/PID/exe matches
pid_of() {
  local f=$DIR/run/$1.pid p exe
  [ -s "$f" ] || return 1
  p=$(head -n1 "$f" 2>/dev/null | tr -dc 0-9) || return 1
  [ -n "$p" ] && [ -d "/proc/$p" ] || return 1   # (kill -0 needs root)
  exe=$(readlink "/proc/$p/exe" 2>/dev/null || true); exe=${exe% (deleted)}
  # not root (status as another user): /proc/PID/exe is unreadable, use comm
  [ -n "$exe" ] || [ "$(id -u)" = 0 ] || exe=$(cat "/proc/$p/comm" 2>/dev/null || true)
  # Debian: /usr/sbin/slurmctld is an alternatives link to slurmctld-wlm
  case "${exe##*/}" in "$2"|"$2-wlm") echo "$p" ;; *) return 1 ;; esac
}
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
wait_for() { # SECONDS DESCRIPTION COMMAND...
  local end=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || { echo "$PROG: timeout waiting for $what" >&2; return 1; }
    sleep 0.1
  done
}
show_logs() {
  local f
  for f in "$DIR"/log/*.log "$DIR"/log/*.stderr; do
    [ -s "$f" ] && { echo "==== tail $f"; tail -n 20 "$f"; }
  done >&2 || true
}
node_state() { timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1; }
# the values the cluster of DIR was started with (written by start at the end)
read_info() { # sets I_MODE I_DBD I_NODE; returns 1 if there is no info
  I_MODE="" I_DBD="" I_NODE=""
  [ -s "$DIR/cluster.info" ] || return 1
  I_MODE=$(sed -n 's/^mode=//p' "$DIR/cluster.info")
  I_DBD=$(sed -n 's/^dbd=//p' "$DIR/cluster.info")
  I_NODE=$(sed -n 's/^node=//p' "$DIR/cluster.info")
}

# healthy [quiet]: 0 iff every daemon of DIR runs, the node is usable and (with
# dbd) sacct answers.  Prints a summary unless "quiet"; sets HEALTH_MSG.
healthy() {
  local quiet=${1:-} ok=0 n p st pids="" dbd
  HEALTH_MSG=""
  if ! read_info; then HEALTH_MSG="not running (no $DIR/cluster.info)"; ok=1; fi
  dbd=${I_DBD:-1}
  local names="munged slurmctld slurmd"; [ "$dbd" = 1 ] && names="munged mariadbd slurmdbd slurmctld slurmd"
  if [ "$ok" = 0 ]; then
    for n in $names; do
      if p=$(pid_of "$n" "$n"); then pids="$pids $n=$p"
      else HEALTH_MSG="$n is not running"; ok=1; break; fi
    done
  fi
  if [ "$ok" = 0 ]; then
    NODE=${I_NODE:-$NODE}
    st=$(node_state || true)
    case "$st" in   # "allocated+" = allocated and also completing
      idle|mixed|allocated|completing|idle+|mixed+|allocated+|completing+) ;;
      *) HEALTH_MSG="node $NODE state is '${st:-unknown}' (sinfo)"; ok=1 ;;
    esac
  fi
  if [ "$ok" = 0 ] && [ "$dbd" = 1 ]; then
    if ! timeout 20 sacct -n -X -o JobID -S now-1minutes >/dev/null 2>&1; then
      HEALTH_MSG="sacct does not work (slurmdbd/mariadb)"; ok=1
    fi
  fi
  if [ "$quiet" != quiet ]; then
    if [ "$ok" = 0 ]; then
      echo "slurm dev cluster $DIR: UP, node $NODE $st, $I_MODE mode, $([ "$dbd" = 1 ] && echo 'accounting: slurmdbd (sacct works)' || echo 'no accounting DB')"
      echo "  daemons:$pids"
      echo "  export SLURM_CONF=$SLURM_CONF     # or: . $DIR/env.sh"
    else
      echo "slurm dev cluster $DIR: NOT healthy: $HEALTH_MSG"
    fi
  fi
  return $ok
}

# ------------------------------------------------------------ stop
do_stop() { # no set -e in here: best effort, everything is checked explicitly
  local jobs i n NODE_CONF d p
  if [ ! -d "$DIR" ]; then echo "$PROG: $DIR does not exist, nothing to stop" >&2; return 0; fi
  # 1. cancel all jobs so that no job processes survive
  if pid_of slurmctld slurmctld >/dev/null && pid_of slurmd slurmd >/dev/null; then
    jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u)
    if [ -n "$jobs" ]; then
      log "cancelling $(echo "$jobs" | wc -l) job(s)"
      # shellcheck disable=SC2086
      timeout 30 scancel $jobs 2>/dev/null
      for ((i = 0; i < 300; i++)); do
        [ -z "$(timeout 10 squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.1
      done
    fi
  fi
  NODE_CONF=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$SLURM_CONF" 2>/dev/null | head -n1)
  # 2. daemons; munged last (the Slurm daemons use it while shutting down)
  stop_group slurmd slurmctld slurmdbd
  stop_group mariadbd munged
  # 3. leftover job steps of this cluster (slurmstepd with files in DIR open)
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    case "$(readlink "/proc/$p/exe" 2>/dev/null)" in */slurmstepd*) ;; *) continue ;; esac
    if ls -l "/proc/$p/fd" 2>/dev/null | grep -q " $DIR/"; then
      log "killing leftover slurmstepd pid $p"; kill -KILL "$p" 2>/dev/null
    fi
  done
  # 4. empty cgroup v1 directories left by our slurmd (rmdir fails on busy ones)
  if [ -n "$NODE_CONF" ]; then
    for d in /sys/fs/cgroup/*/slurm_"$NODE_CONF"; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  fi
  rm -f "$DIR/cluster.info" "$DIR/env.sh"
  if [ "$PURGE" = 1 ]; then
    rm -rf "${DIR:?}"; log "removed $DIR"
  fi
  return 0
}
stop_group() { # NAME... (exe name = NAME): SIGTERM all, wait up to 30 s, then SIGKILL
  local n p i left pids=() names=()
  for n in "$@"; do
    if p=$(pid_of "$n" "$n"); then kill -TERM "$p" 2>/dev/null; pids+=("$p"); names+=("$n"); fi
  done
  for ((i = 0; i < 300 && ${#pids[@]} > 0; i++)); do
    left=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break; sleep 0.1
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      log "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for 30 s, sending SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null
    fi
    log "stopped ${names[$i]} (pid ${pids[$i]})"
  done
  for n in "$@"; do
    p=$(head -n1 "$DIR/run/$n.pid" 2>/dev/null | tr -dc 0-9)
    if [ -n "$p" ] && [ -n "$(readlink "/proc/$p/exe" 2>/dev/null)" ] && ! pid_of "$n" "$n" >/dev/null; then
      # alive but not the expected program: not ours (pid reused?), leave it alone
      log "WARNING: pid $p from $DIR/run/$n.pid is $(readlink "/proc/$p/exe" 2>/dev/null || echo '?'), not $n: not signalled"
    fi
    rm -f "$DIR/run/$n.pid"
  done
}
stop_quietly() { ( set +eE; trap - ERR; do_stop ) || true; }

# ------------------------------------------------------------ status
if [ "$CMD" = status ]; then
  if healthy; then exit 0; else exit 1; fi
fi

# start and stop are serialised per DIR (a second start waits for the first
# and then finds the cluster healthy).  fd 9 must not leak into the daemons.
[ "$(id -u)" = 0 ] || { echo "$PROG: must run as root (slurmd launches jobs); try: sudo $SELF $CMD" >&2; exit 1; }
if [ "$CMD" = stop ] && [ ! -d "$DIR" ]; then echo "$PROG: $DIR does not exist, nothing to stop" >&2; exit 0; fi
mkdir -p "$DIR"
exec 9>>"$DIR/.lock"
if ! flock -w 900 9; then echo "$PROG: could not lock $DIR/.lock within 900 s" >&2; exit 1; fi

if [ "$CMD" = stop ]; then
  log "stopping slurm dev cluster of $DIR"
  stop_quietly
  log "done"
  exit 0
fi

# ============================================================ start
STARTED=0   # 1 once a daemon was launched: on failure everything is stopped again
die() {
  trap - ERR
  echo "$PROG: ERROR: $*" >&2
  if [ "$STARTED" = 1 ]; then echo "$PROG: stopping what was started" >&2; stop_quietly; fi
  exit 1
}
trap 'die "unexpected failure (line $LINENO: $BASH_COMMAND)"' ERR

# ------------------------------------------------------------ idempotency
if [ "$RESTART" = 0 ] && healthy quiet; then
  if [ "$I_DBD" = "$WITH_DBD" ] && { [ "$CGROUP" = auto ] || { [ "$CGROUP" = yes ] && [ "$I_MODE" = cgroup ]; } \
       || { [ "$CGROUP" = no ] && [ "$I_MODE" = linuxproc ]; }; }; then
    log "cluster of $DIR already up (node $NODE $(node_state), $I_MODE mode, dbd=$I_DBD); use --restart for a fresh one"
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  log "cluster of $DIR runs with other options (mode=$I_MODE dbd=$I_DBD): restarting"
fi
if compgen -G "$DIR/run/*.pid" >/dev/null; then
  log "stopping previous cluster of $DIR${HEALTH_MSG:+ ($HEALTH_MSG)}"
  stop_quietly
fi

# ------------------------------------------------------------ packages
APT_LOG=$DIR/apt.log
apt_get() { # retried: another apt may hold a lock that Lock::Timeout does not cover
  local i
  for i in 1 2 3 4 5 6; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" >>"$APT_LOG" 2>&1; then return 0; fi
    grep -q 'Could not get lock\|Unable to lock\|Unable to acquire' <(tail -n 5 "$APT_LOG") || return 1
    log "apt is locked by another process, retrying in 10 s"; sleep 10
  done
  return 1
}
need=()
for b in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
  command -v "${b%%:*}" >/dev/null 2>&1 || need+=("${b#*:}")
done
if [ "$WITH_DBD" = 1 ]; then
  command -v slurmdbd >/dev/null 2>&1 || need+=(slurmdbd)
  { command -v mariadbd && command -v mariadb-install-db && command -v mariadb; } >/dev/null 2>&1 || need+=(mariadb-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  [ "$INSTALL" = 1 ] || die "missing packages: ${need[*]} (and --no-install given)"
  # package scripts must not start the distro's own munge/slurm/mariadb services
  prc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; prc=1
  fi
  ok=1
  if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then
    log "apt-get update (package lists lack ${need[*]})"
    apt_get update || ok=0
  fi
  if [ "$ok" = 1 ]; then
    log "apt-get install ${need[*]} (log: $APT_LOG)"
    if ! apt_get install -y --no-install-recommends "${need[@]}"; then
      log "install failed; apt-get update and retry"
      { apt_get update && apt_get install -y --no-install-recommends "${need[@]}"; } || ok=0
    fi
  fi
  [ "$prc" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$ok" = 1 ] || { tail -n 20 "$APT_LOG" >&2; die "apt-get install ${need[*]} failed (see $APT_LOG)"; }
  log "packages installed"
fi
VERSION=$(slurmctld -V 2>/dev/null | awk '{print $2}')
case "$VERSION" in 22.05.*) ;; *) log "WARNING: Slurm version is '$VERSION', this script was written for 22.05" ;; esac

for p in "$CTLD_PORT" "$SLURMD_PORT" $([ "$WITH_DBD" = 1 ] && echo "$DBD_PORT $DB_PORT"); do
  if port_open "$p"; then
    die "TCP port $p on 127.0.0.1 is already in use (another Slurm or DB? set DISTRIBUTOR_SLURM_*_PORT)"
  fi
done

# ------------------------------------------------------------ layout
rm -rf "${DIR:?}"/{etc,run,log,state,spool,munge,db,env.sh,cluster.info}
mkdir -p "$DIR"/{etc,run,log,state,spool,munge}
chmod 755 "$DIR" "$DIR/munge"   # munged insists on a socket dir everybody may enter

# ------------------------------------------------------------ munge (private instance)
dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$DIR/munge/munge.key"
STARTED=1
munged --key-file="$DIR/munge/munge.key" --socket="$MUNGE_SOCK" \
  --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
  --seed-file="$DIR/munge/munged.seed" </dev/null >>"$DIR/log/munged.stderr" 2>&1 9>&- \
  || { show_logs; die "munged failed to start"; }
wait_for 10 munged bash -c "munge -S '$MUNGE_SOCK' -n | unmunge -S '$MUNGE_SOCK' >/dev/null 2>&1" \
  || { show_logs; die "munge does not work"; }
log "munged up (pid $(cat "$DIR/run/munged.pid"))"

# ------------------------------------------------------------ mariadb + slurmdbd
if [ "$WITH_DBD" = 1 ]; then
  mkdir -p "$DIR/db"
  mariadb-install-db --no-defaults --datadir="$DIR/db/data" --user=root --skip-test-db \
     --auth-root-authentication-method=socket </dev/null > "$DIR/log/mariadb-install-db.log" 2>&1 9>&- \
     || { cat "$DIR/log/mariadb-install-db.log" >&2; die "mariadb-install-db failed"; }
  setsid mariadbd --no-defaults --datadir="$DIR/db/data" --socket="$DB_SOCK" \
     --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$DIR/run/mariadbd.pid" \
     --log-error="$DIR/log/mariadbd.log" --user=root --skip-name-resolve --skip-log-bin \
     --innodb-buffer-pool-size=128M --innodb-log-file-size=48M \
     --innodb-lock-wait-timeout=900 --innodb-flush-log-at-trx-commit=2 \
     </dev/null >>"$DIR/log/mariadbd.stderr" 2>&1 9>&- &
  wait_for 60 mariadbd bash -c "mariadb --no-defaults -S '$DB_SOCK' -uroot -e 'select 1' >/dev/null 2>&1" \
    || { show_logs; die "mariadbd did not come up"; }
  wait_for 10 "mariadbd pid file" test -s "$DIR/run/mariadbd.pid" || die "mariadbd wrote no pid file"
  chmod 644 "$DIR/run/mariadbd.pid"   # so that status works for other users too
  mariadb --no-defaults -S "$DB_SOCK" -uroot -e "
    CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmdev';
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdev';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" || die "creating the slurm DB user failed"
  log "mariadbd up (pid $(cat "$DIR/run/mariadbd.pid"), 127.0.0.1:$DB_PORT)"
  # slurmdbd finds slurmdbd.conf next to $SLURM_CONF; it must be mode 0600
  cat > "$DIR/etc/slurmdbd.conf" <<EOF
# generated by distributor scripts/dev-clusters/slurm.sh
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmdev
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$DIR/etc/slurmdbd.conf"
  slurmdbd </dev/null >>"$DIR/log/slurmdbd.stderr" 2>&1 9>&- || { show_logs; die "slurmdbd failed to start"; }
  wait_for 60 slurmdbd port_open "$DBD_PORT" || { show_logs; die "slurmdbd did not listen on $DBD_PORT"; }
  log "slurmdbd up (pid $(cat "$DIR/run/slurmdbd.pid"))"
fi

# ------------------------------------------------------------ node shape
HW=$(slurmd -C 9>&- | head -n1)   # NodeName=x CPUs=.. Boards=.. SocketsPerBoard=.. ... RealMemory=..
hw() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<" $HW"; }
MEM=${DISTRIBUTOR_SLURM_MEMORY:-$(hw RealMemory)}
[ -n "$MEM" ] && [ -n "$(hw CPUs)" ] || die "could not parse 'slurmd -C': $HW"
if [ -n "$CPUS_OVERRIDE" ]; then
  CPUS=$CPUS_OVERRIDE
  NODE_SHAPE="CPUs=$CPUS RealMemory=$MEM"
  OVERRIDES="SlurmdParameters=config_overrides"
else
  CPUS=$(hw CPUs)
  NODE_SHAPE="CPUs=$CPUS Boards=$(hw Boards) SocketsPerBoard=$(hw SocketsPerBoard) CoresPerSocket=$(hw CoresPerSocket) ThreadsPerCore=$(hw ThreadsPerCore) RealMemory=$MEM"
  OVERRIDES=""
fi
# without DefMemPerCPU a job gets the whole node's memory: only one job at a time
DEFMEM=$(( MEM / CPUS )); [ "$DEFMEM" -gt 1024 ] && DEFMEM=1024

cgroup_possible() { # cheap pre-check; the smoke job is the real test
  local fs c t=slurm_dev_probe_$$
  fs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || true)
  if [ "$fs" = cgroup2fs ]; then
    grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null
  else
    for c in memory freezer cpuset; do [ -d "/sys/fs/cgroup/$c" ] || return 1; done
    mkdir "/sys/fs/cgroup/memory/$t" 2>/dev/null && rmdir "/sys/fs/cgroup/memory/$t"
  fi
}

write_conf() { # $1 = cgroup|linuxproc
  local plugins acct
  if [ "$1" = cgroup ]; then
    # memory limits enforced by the kernel (ConstrainRAMSpace): OUT_OF_MEMORY state.
    # with --cpus > real CPUs there is nothing to pin to: no affinity/cpuset
    plugins="ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup$([ -z "$CPUS_OVERRIDE" ] && echo ,task/affinity)
JobAcctGatherType=jobacct_gather/cgroup"
    cat > "$DIR/etc/cgroup.conf" <<EOF
# generated by distributor scripts/dev-clusters/slurm.sh
CgroupPlugin=autodetect
IgnoreSystemdOnFailure=yes
ConstrainCores=$([ -z "$CPUS_OVERRIDE" ] && echo yes || echo no)
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
AllowedSwapSpace=0
${DISTRIBUTOR_SLURM_CGROUP_EXTRA_CONF:-}
EOF
  else
    # memory limits enforced by polling (JobAcctGatherFrequency=task=1): a job
    # over its --mem is killed (FAILED / 0:9, not OUT_OF_MEMORY)
    plugins="ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill"
    rm -f "$DIR/etc/cgroup.conf"
  fi
  if [ "$WITH_DBD" = 1 ]; then
    # AccountingStoragePass=<socket>: otherwise slurmctld->slurmdbd uses /run/munge
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$MUNGE_SOCK"
  else
    acct="AccountingStorageType=accounting_storage/none"
  fi
  cat > "$SLURM_CONF" <<EOF
# generated by distributor scripts/dev-clusters/slurm.sh ($1 mode)
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
SwitchType=switch/none
$plugins
# Contain: extern step + fast job turnaround (also with linuxproc)
PrologFlags=Contain
JobAcctGatherFrequency=task=1
$acct
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEFMEM
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=5
PriorityType=priority/basic
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
EnforcePartLimits=ALL
# largest array index is MaxArraySize-1
MaxArraySize=$MAX_ARRAY_SIZE
MaxJobCount=100000
MinJobAge=$MINJOBAGE
KillWait=5
OverTimeLimit=0
InactiveLimit=0
Waittime=0
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
$OVERRIDES
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE $NODE_SHAPE State=UNKNOWN
PartitionName=debug  Nodes=$NODE Default=YES MaxTime=01:00:00   DefaultTime=00:10:00 State=UP PriorityTier=1
PartitionName=long   Nodes=$NODE Default=NO  MaxTime=2-00:00:00 DefaultTime=01:00:00 State=UP PriorityTier=1
PartitionName=urgent Nodes=$NODE Default=NO  MaxTime=00:30:00   DefaultTime=00:10:00 State=UP PriorityTier=10
${DISTRIBUTOR_SLURM_EXTRA_CONF:-}
EOF
}

stop_ctld_slurmd() {
  local n p
  for n in slurmd slurmctld; do
    p=$(pid_of "$n" "$n") && kill -TERM "$p" 2>/dev/null
    [ -n "${p:-}" ] && { wait_for 20 "$n exit" bash -c "! kill -0 $p 2>/dev/null" || kill -KILL "$p" 2>/dev/null; }
    rm -f "$DIR/run/$n.pid"; p=""
  done
  rm -rf "$DIR/state" "$DIR/spool"; mkdir -p "$DIR/state" "$DIR/spool"
}

start_ctld_slurmd() { # $1 = mode; returns 1 if the node does not get idle or the smoke job fails
  local j st
  write_conf "$1"
  slurmctld -i </dev/null >>"$DIR/log/slurmctld.stderr" 2>&1 9>&- || { show_logs; die "slurmctld failed to start"; }
  wait_for 30 slurmctld bash -c "scontrol ping 2>/dev/null | grep -q 'is UP'" || { show_logs; die "slurmctld not up"; }
  log "slurmctld up (pid $(cat "$DIR/run/slurmctld.pid"), $1 mode)"
  slurmd -N "$NODE" </dev/null >>"$DIR/log/slurmd.stderr" 2>&1 9>&- \
    || { echo "$PROG: slurmd failed to start ($1 mode)" >&2; return 1; }
  wait_for "$TIMEOUT" "node $NODE idle" bash -c "[ \"\$(sinfo -h -n '$NODE' -o %T 2>/dev/null)\" = idle ]" \
    || { sinfo -N -l >&2 || true; return 1; }
  log "slurmd up (pid $(cat "$DIR/run/slurmd.pid")), node $NODE idle"
  # smoke job: proves munge creds, job launch, proctrack/task plugins, epilog
  j=$(sbatch --parsable -J smoke -o /dev/null -t 1 --mem=16M --wrap 'true' 9>&-) || return 1
  wait_for 30 "smoke job $j" bash -c "[ -z \"\$(squeue -h -j $j -o %i 2>/dev/null)\" ]" || true
  st=$(scontrol show job "$j" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  [ "$st" = COMPLETED ] || { echo "$PROG: smoke job $j ended in '$st' ($1 mode)" >&2; return 1; }
  wait_for 10 "node $NODE idle again" bash -c "[ \"\$(sinfo -h -n '$NODE' -o %T 2>/dev/null)\" = idle ]" || return 1
  log "smoke job $j COMPLETED"
}

MODE=linuxproc
if [ "$CGROUP" = yes ] || { [ "$CGROUP" = auto ] && cgroup_possible; }; then MODE=cgroup; fi
if ! start_ctld_slurmd "$MODE"; then
  if [ "$MODE" = cgroup ] && [ "$CGROUP" = auto ]; then
    { echo "---- slurmd log of the failed cgroup attempt:"
      tail -n 15 "$DIR/log/slurmd.log" "$DIR/log/slurmd.stderr" 2>/dev/null; } >&2 || true
    log "cgroup mode does not work here, falling back to proctrack/linuxproc + OverMemoryKill"
    stop_ctld_slurmd
    mv "$DIR/log/slurmd.log" "$DIR/log/slurmd-cgroup-attempt.log" 2>/dev/null || true
    mv "$DIR/log/slurmd.stderr" "$DIR/log/slurmd-cgroup-attempt.stderr" 2>/dev/null || true
    MODE=linuxproc
    start_ctld_slurmd "$MODE" || { show_logs; die "node did not come up"; }
  else
    show_logs; die "node did not come up ($MODE mode)"
  fi
fi

if [ "$WITH_DBD" = 1 ]; then
  wait_for 30 sacct bash -c "timeout 20 sacct -n -X -o JobID -S now-1minutes >/dev/null 2>&1" \
    || { show_logs; die "sacct does not work"; }
fi
printf 'mode=%s\ndbd=%s\nnode=%s\nversion=%s\n' "$MODE" "$WITH_DBD" "$NODE" "$VERSION" > "$DIR/cluster.info"
cat > "$DIR/env.sh" <<EOF
# source me: use the slurm dev cluster of $DIR ($MODE mode)
export SLURM_CONF=$SLURM_CONF
EOF
sinfo >&2 || true
log "Slurm $VERSION dev cluster ready: node $NODE, $MODE mode, $([ "$WITH_DBD" = 1 ] && echo "slurmdbd (sacct works)" || echo "no accounting DB (no sacct)"), MaxArraySize=$MAX_ARRAY_SIZE"
log "use: . $DIR/env.sh     stop: $SELF stop $DIR"
echo "export SLURM_CONF=$SLURM_CONF"
