#!/usr/bin/env bash
# sshd.sh - a real OpenSSH server on this machine that stands for a cluster's login node, for
# development and CI tests of distributor's SSH transport.  No systemd needed.  Run as root.
#
#   sshd.sh start [--reinstall]    sshd.sh stop    sshd.sh status    sshd.sh cut|restore [PORT]
#
# start    installs Debian's openssh-server (and nftables) if missing; creates the user
#          "distssh" (DISTRIBUTOR_SSHD_USER) whose home is /var/lib/distributor-ssh/home - not
#          the local user's, so nothing works through the local filesystem by accident; gives
#          it a key pair (private half in DIR, 0600 root) and a Python virtual environment,
#          /var/lib/distributor-ssh/venv, with this checkout's distributor core and its Slurm
#          and Grid Engine plugins installed (not editable: a login node has its own copy; it
#          is reinstalled when the sources changed); writes the user's ~/.ssh/environment
#          (PATH with that venv, SLURM_CONF and SGE_* of the dev clusters, so the user can
#          submit to the real Slurm and Grid Engine - neither restricts users here); starts
#          sshd on 127.0.0.1:2222-2225 (DISTRIBUTOR_SSHD_PORT and the next three: test groups
#          that run at once each cut their own port) with its own host key, config and
#          pid file in DIR (/tmp/distributor-sshd, DISTRIBUTOR_SSHD_DIR), public-key login
#          only; waits until a login works.  Idempotent.  Prints the env file's path.
# stop     stops the sshd this script started (its pid file, checked against /proc) and
#          removes the link cut, if any.  The user and the venv stay.
# status   exit 0 if the recorded sshd runs and a login works.
# cut      drops every packet to and from sshd's PORT (default: the first; an nftables table in the
#          output hook, which loopback traffic passes), so established connections hang
#          and new ones time out, as when a network link dies; restore deletes the table.
#          Each port has its own table, so tests running at once cut only their own link.
#
# Why not sshd in a network namespace (ip netns + veth): the real Slurm and Grid Engine
# daemons listen on 127.0.0.1 in the root namespace, and commands run by an sshd inside a
# namespace could reach them only through routing 127.0.0.0/8 off the loopback device
# (route_localnet) or through addresses of another range; dropping the sshd port's packets
# in the root namespace cuts the link the same way for the client (measured: a master
# connection notices after ServerAliveInterval x 3, a new one after ConnectTimeout) and leaves
# the daemons alone.
#
# Env file (DIR/env.sh): DISTRIBUTOR_SSH_URL, DISTRIBUTOR_SSH_KEY, DISTRIBUTOR_SSH_KNOWN_HOSTS,
# DISTRIBUTOR_SSH_WORKER, DISTRIBUTOR_SSH_HOME, DISTRIBUTOR_SSHD_DIR and, where tmpfs can be
# mounted, DISTRIBUTOR_SSH_SMALL_DISK (a 256 KiB filesystem of the user's: a disk to fill).
set -euo pipefail

DIR=${DISTRIBUTOR_SSHD_DIR:-/tmp/distributor-sshd}
PORT=${DISTRIBUTOR_SSHD_PORT:-2222}
ADDR=127.0.0.1
SSH_USER=${DISTRIBUTOR_SSHD_USER:-distssh}
BASE=/var/lib/distributor-ssh
USER_HOME=$BASE/home
VENV=$BASE/venv
PORTS=("$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3)))
SLURM_DIR=${DISTRIBUTOR_SLURM_DIR:-/tmp/distributor-slurm}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
APT_LOCK=(-o DPkg::Lock::Timeout=600)
CMD=${1:-}
[ $# -gt 0 ] && shift

log() { printf '[sshd.sh %s] %s\n' "$CMD" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

sshd_pid() {   # the recorded sshd's pid if it still runs as sshd, else nothing
    local pid
    [ -s "$DIR/sshd.pid" ] || return 1
    pid=$(cat "$DIR/sshd.pid")
    [ -d "/proc/$pid" ] || return 1
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in */sshd) echo "$pid" ;; *) return 1 ;; esac
}

login_works() {
    ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=yes \
        -o UserKnownHostsFile="$DIR/known_hosts" -o IdentitiesOnly=yes -i "$DIR/client_key" \
        -o ControlMaster=no -o ControlPath=none -p "$PORT" -l "$SSH_USER" -- "$ADDR" true \
        </dev/null >/dev/null 2>&1
}

install_packages() {
    local missing=()
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v nft >/dev/null || missing+=(nftables)
    command -v ssh >/dev/null || missing+=(openssh-client)
    /usr/bin/python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
    [ ${#missing[@]} = 0 ] && return
    log "installing ${missing[*]}"
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then apt-get "${APT_LOCK[@]}" update -qq; fi
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_LOCK[@]}" install -y -qq \
        --no-install-recommends "${missing[@]}" >"$DIR/apt.log" 2>&1 || { cat "$DIR/apt.log" >&2; die "apt-get failed"; }
}

make_user() {
    mkdir -p "$BASE"
    chmod 755 "$BASE"
    if ! id -u "$SSH_USER" >/dev/null 2>&1; then
        log "creating user $SSH_USER (home $USER_HOME)"
        # '*': no password, but not a locked account (sshd refuses those)
        useradd --create-home --home-dir "$USER_HOME" --shell /bin/bash --password '*' "$SSH_USER"
    fi
    [ -f "$DIR/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C "distributor-tests" -f "$DIR/client_key"
    # what tests left a day ago or more (their submit roots and scratch directories)
    if [ -d "$USER_HOME/tests" ]; then
        find "$USER_HOME/tests" -mindepth 1 -maxdepth 1 -mtime +0 -exec rm -rf {} + 2>/dev/null || true
    fi
    install -d -m 700 -o "$SSH_USER" -g "$SSH_USER" "$USER_HOME/.ssh"
    install -m 600 -o "$SSH_USER" -g "$SSH_USER" "$DIR/client_key.pub" "$USER_HOME/.ssh/authorized_keys"
    # What a login node's profile gives: the venv's commands and the dev clusters' settings.
    local sge_env=/tmp/distributor-sge/env.sh
    {
        echo "PATH=$VENV/bin:/usr/local/bin:/usr/bin:/bin"
        echo "SLURM_CONF=$SLURM_DIR/etc/slurm.conf"
        echo "SGE_ROOT=/var/lib/gridengine"
        echo "SGE_CELL=default"
        if [ -f "$sge_env" ]; then
            sed -n 's/^export \(SGE_[A-Z_]*PORT\)=\(.*\)$/\1=\2/p' "$sge_env"
        else
            echo "SGE_QMASTER_PORT=6444"
            echo "SGE_EXECD_PORT=6445"
        fi
    } >"$USER_HOME/.ssh/environment.new"
    chown "$SSH_USER:$SSH_USER" "$USER_HOME/.ssh/environment.new"
    mv -f "$USER_HOME/.ssh/environment.new" "$USER_HOME/.ssh/environment"
}

make_venv() {   # the login node's own distributor, reinstalled when the sources changed
    local stamp
    stamp=$(cd "$SRC" && find distributor plugins/distributor-slurm plugins/distributor-sge \
        pyproject.toml -name '*.py' -o -name '*.toml' | sort | xargs sha256sum | sha256sum | cut -c1-32)
    if [ "${REINSTALL:-0}" = 0 ] && [ -x "$VENV/bin/distributor-worker" ] \
        && [ "$(cat "$VENV/.stamp" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    log "installing distributor into $VENV (a copy of $SRC)"
    [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
    local copy
    copy=$(mktemp -d)
    # a clean copy: the checkout's own build artefacts and venv stay out
    (cd "$SRC" && tar -c --exclude=.venv --exclude='*.egg-info' --exclude=__pycache__ \
        --exclude=build --exclude=dist pyproject.toml README.md distributor \
        plugins/distributor-slurm plugins/distributor-sge ) | tar -x -C "$copy"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "$copy" "$copy/plugins/distributor-slurm" "$copy/plugins/distributor-sge" >"$DIR/pip.log" 2>&1 \
        || { rm -rf "$copy"; cat "$DIR/pip.log" >&2; die "installing distributor into $VENV failed"; }
    rm -rf "$copy"
    chmod -R a+rX "$VENV"
    echo "$stamp" >"$VENV/.stamp"
}

make_small_disk() {   # a 256 KiB filesystem of the user's, for the tests of a full remote disk
    mkdir -p "$BASE/small"
    if ! mountpoint -q "$BASE/small"; then
        mount -t tmpfs -o "size=256k,mode=0700,uid=$(id -u "$SSH_USER"),gid=$(id -g "$SSH_USER")" \
            tmpfs "$BASE/small" 2>/dev/null || { log "no tmpfs mount here: no small disk"; return 0; }
    fi
    echo "export DISTRIBUTOR_SSH_SMALL_DISK=$BASE/small" >>"$DIR/env.sh"
}

write_config() {
    [ -f "$DIR/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C "distributor-sshd" -f "$DIR/host_key"
    local key p
    key=$(cut -d' ' -f1-2 "$DIR/host_key.pub")
    for p in "${PORTS[@]}"; do printf '[%s]:%s %s\n' "$ADDR" "$p" "$key"; done >"$DIR/known_hosts"
    cat >"$DIR/sshd_config.new" <<EOF
# written by scripts/dev-clusters/sshd.sh
ListenAddress $ADDR
$(for p in "${PORTS[@]}"; do echo "Port $p"; done)
HostKey $DIR/host_key
PidFile $DIR/sshd.pid
AllowUsers $SSH_USER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
PermitUserEnvironment yes
AuthorizedKeysFile .ssh/authorized_keys
# one master connection carries many sessions at once
MaxSessions 64
MaxStartups 64:30:128
ClientAliveInterval 10
ClientAliveCountMax 3
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel INFO
Subsystem sftp internal-sftp
EOF
    cat >"$DIR/env.sh" <<EOF
# source me: the test login node of scripts/dev-clusters/sshd.sh
export DISTRIBUTOR_SSHD_DIR=$DIR
export DISTRIBUTOR_SSH_URL=ssh://$SSH_USER@$ADDR:$PORT
export DISTRIBUTOR_SSH_PORTS="${PORTS[*]}"
export DISTRIBUTOR_SSH_KEY=$DIR/client_key
export DISTRIBUTOR_SSH_KNOWN_HOSTS=$DIR/known_hosts
export DISTRIBUTOR_SSH_WORKER=$VENV/bin/distributor-worker
export DISTRIBUTOR_SSH_HOME=$USER_HOME
EOF
}

start() {
    need_root
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    exec 9>"$DIR/.lock"
    flock 9
    [ "${1:-}" = --reinstall ] && REINSTALL=1
    install_packages
    make_user
    make_venv
    write_config
    make_small_disk
    local pid
    if ! cmp -s "$DIR/sshd_config.new" "$DIR/sshd_config" && pid=$(sshd_pid); then
        log "configuration changed: restarting sshd (pid $pid)"
        kill "$pid"
        for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    fi
    mv -f "$DIR/sshd_config.new" "$DIR/sshd_config"
    if ! sshd_pid >/dev/null; then
        mkdir -p /run/sshd
        chmod 755 /run/sshd
        /usr/sbin/sshd -t -f "$DIR/sshd_config" || die "sshd -t rejected $DIR/sshd_config"
        /usr/sbin/sshd -f "$DIR/sshd_config" -E "$DIR/sshd.log"
        log "sshd started on $ADDR:$PORT (pid $(cat "$DIR/sshd.pid"))"
    fi
    for _ in $(seq 50); do login_works && { echo "$DIR/env.sh"; return 0; }; sleep 0.2; done
    tail -20 "$DIR/sshd.log" >&2 || true
    die "no login as $SSH_USER on $ADDR:$PORT"
}

stop() {
    need_root
    local p pid
    for p in "${PORTS[@]}"; do restore_link "$p"; done
    if pid=$(sshd_pid); then
        kill "$pid"
        log "stopped sshd (pid $pid)"
    fi
    rm -f "$DIR/sshd.pid"
}

status() {
    local pid
    pid=$(sshd_pid) || { echo "sshd: not running" >&2; return 1; }
    login_works || { echo "sshd: pid $pid, but no login" >&2; return 1; }
    echo "sshd: pid $pid on $ADDR:$PORT, user $SSH_USER, env file $DIR/env.sh" >&2
}

port_arg() {   # PORT must be one of sshd's
    local p=${1:-$PORT}
    case " ${PORTS[*]} " in *" $p "*) echo "$p" ;; *) die "port $p is not one of ${PORTS[*]}" ;; esac
}

cut_link() {
    need_root
    local p
    p=$(port_arg "${1:-}")
    nft delete table inet "distributor_sshd_$p" 2>/dev/null || true
    nft -f - <<EOF
table inet distributor_sshd_$p {
    chain out {
        type filter hook output priority 0; policy accept;
        ip daddr $ADDR tcp dport $p drop
        ip saddr $ADDR tcp sport $p drop
    }
}
EOF
    log "link to $ADDR:$p cut"
}

restore_link() {
    need_root
    local p
    p=$(port_arg "${1:-}")
    if nft list table inet "distributor_sshd_$p" >/dev/null 2>&1; then
        nft delete table inet "distributor_sshd_$p"
        log "link to $ADDR:$p restored"
    fi
}

case $CMD in
    start) start "$@" ;;
    stop) stop ;;
    status) status ;;
    cut) cut_link "$@" ;;
    restore) restore_link "$@" ;;
    *) sed -n '5p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
esac
