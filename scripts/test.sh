#!/usr/bin/env bash
# Install everything into a fresh virtual environment and run the whole test suite:
# ruff, mypy --strict, pytest, then a wheel build whose installed plugins must be discovered.
#   bash scripts/test.sh [extra pytest args]
# Environment: DISTRIBUTOR_VENV (default .venv), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${DISTRIBUTOR_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

step() { printf '\n== %s\n' "$*" >&2; }
# commands run on exit, in order (each step appends its own clean-up)
CLEANUP=()
cleanup() { local c; for c in "${CLEANUP[@]}"; do eval "$c" || true; done; }
trap cleanup EXIT

# The Slurm dev cluster: on a machine without one (CI) it is started in the background while
# the venv is built, and stopped on exit. A cluster somebody else started (DIR/cluster.info
# exists) is used as it is and never stopped here; tests may briefly make it unhealthy.
SLURM_DIR=${DISTRIBUTOR_SLURM_DIR:-/tmp/distributor-slurm}
SLURM_LOG=$(mktemp)
CLEANUP+=('rm -f "$SLURM_LOG"')
SLURM_START_PID=""
slurm_daemons_alive() {   # any daemon recorded in DIR/run still running?
    local f
    for f in "$SLURM_DIR"/run/*.pid; do
        [ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
    done
    return 1
}
# cluster.info left behind by daemons that died with their session (CI after a stop) is no
# cluster: start afresh rather than wait for it.
if [ ! -e "$SLURM_DIR/cluster.info" ] || ! slurm_daemons_alive; then
    step "starting the Slurm dev cluster in the background (log: $SLURM_LOG)"
    CLEANUP+=('bash scripts/dev-clusters/slurm.sh stop >&2')
    bash scripts/dev-clusters/slurm.sh start >/dev/null 2>"$SLURM_LOG" &
    SLURM_START_PID=$!
fi

# The Grid Engine dev cell likewise (about 12 s from a bare machine). It is stopped on exit
# only if this script started its qmaster (a running cell with a dead execd is only repaired).
SGE_LOG=$(mktemp)
CLEANUP+=('rm -f "$SGE_LOG"')
SGE_START_PID=""
if ! bash scripts/dev-clusters/sge.sh status >/dev/null 2>&1; then
    step "starting the Grid Engine dev cell in the background (log: $SGE_LOG)"
    if ! qconf -sh >/dev/null 2>&1; then CLEANUP+=('bash scripts/dev-clusters/sge.sh stop >&2'); fi
    bash scripts/dev-clusters/sge.sh start >/dev/null 2>"$SGE_LOG" &
    SGE_START_PID=$!
fi

# The test login node (OpenSSH on 127.0.0.1:2222, scripts/dev-clusters/sshd.sh): its own user and
# venv with this checkout installed (about 20 s the first time), left running on exit like a
# cluster somebody else may be using; the SSH tests skip without root.
SSHD_LOG=$(mktemp)
CLEANUP+=('rm -f "$SSHD_LOG"')
SSHD_START_PID=""
if [ "$(id -u)" = 0 ]; then
    step "starting the test login node (sshd) in the background (log: $SSHD_LOG)"
    bash scripts/dev-clusters/sshd.sh start >/dev/null 2>"$SSHD_LOG" &
    SSHD_START_PID=$!
fi

# The HTCondor dev pool: a Debian chroot with HTCondor 23.9.6, built the first time (one to two
# minutes, three on a busy machine), then started (a few seconds). `start` runs even
# when a pool is up: it binds this checkout and the venv's directory into it. Only its own
# group of tests waits for it, and it is stopped on exit only if this script started it.
HTCONDOR_LOG=$(mktemp)
HTCONDOR_DONE=$(mktemp -d)   # start.status: the start's exit status; env: its env file's path
CLEANUP+=('rm -rf "$HTCONDOR_LOG" "$HTCONDOR_DONE"')
if [ "$(id -u)" = 0 ]; then
    step "starting the HTCondor dev pool in the background (log: $HTCONDOR_LOG)"
    htcondor_was=0
    bash scripts/dev-clusters/htcondor.sh status >/dev/null 2>&1 || htcondor_was=$?
    if [ "$htcondor_was" = 1 ]; then   # not running (3: running, not healthy yet: not ours)
        CLEANUP+=('bash scripts/dev-clusters/htcondor.sh stop >&2')
    fi
    HTCONDOR_BINDS=()
    case "$VENV/" in "$ROOT/"*) ;; *) HTCONDOR_BINDS=(--bind "$(dirname "$VENV")") ;; esac
    (
        set +e
        # 8 slots on this 2-core machine: the tests' jobs mostly sleep
        PYTHON=$PYTHON bash scripts/dev-clusters/htcondor.sh start --cpus 8 "${HTCONDOR_BINDS[@]}" \
            >"$HTCONDOR_DONE/env" 2>"$HTCONDOR_LOG"
        echo $? >"$HTCONDOR_DONE/start.status"
    ) &
fi

# Chromium for the dashboard's browser tests, installed from Debian in the background if missing
# (scripts/install-chromium.sh); the pytest step waits for it.
CHROMIUM_LOG=$(mktemp)
CLEANUP+=('rm -f "$CHROMIUM_LOG"')
bash scripts/install-chromium.sh >"$CHROMIUM_LOG" 2>&1 &
CHROMIUM_PID=$!

step "fresh virtual environment in $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip hatchling editables

step "install the core and every plugin (editable), as the README says"
mapfile -t PLUGINS < <(find plugins -mindepth 1 -maxdepth 1 -type d -name 'distributor-*' | sort)
python -m pip install --quiet --no-build-isolation -e ".[test,dashboard]" \
    $(for p in "${PLUGINS[@]}"; do printf -- '-e %s ' "$p"; done)

step "install Snakemake and the integrations (editable, beside the core)"
# Snakemake finds its executor plugin by module name on sys.path: hatchling's editable install
# puts the directory there (an import hook, as setuptools' editable mode uses, is not seen).
python -m pip install --quiet "snakemake>=9,<10"
python -m pip install --quiet --no-build-isolation \
    -e "integrations/snakemake-executor-plugin-distributor[test]"

step "install the Jobmon bridge, and Jobmon 3.4.8 where its wheels are (../shared/wheels/jobmon)"
# jobmon-core 3.4.8 comes from the index, its client and server from wheels built at its tag
# (the index has no pair that works with it: ../shared/wheels/jobmon/README.md), named by path
# so that pip does not take the index's older jobmon-client. Without them the Jobmon tests skip.
python -m pip install --quiet --no-build-isolation -e integrations/jobmon-plugin-distributor
JOBMON_WHEELS=$ROOT/../shared/wheels/jobmon
if compgen -G "$JOBMON_WHEELS/jobmon_client-*.whl" >/dev/null \
    && compgen -G "$JOBMON_WHEELS/jobmon_server-*.whl" >/dev/null; then
    python -m pip install --quiet "jobmon-core==3.4.8" "$JOBMON_WHEELS"/jobmon_client-*.whl \
        "$JOBMON_WHEELS"/jobmon_server-*.whl
else
    echo "no Jobmon wheels in $JOBMON_WHEELS: the Jobmon end-to-end tests will skip" >&2
fi

step "ruff"
ruff check .
ruff format --check .

step "mypy --strict"
mypy distributor plugins tests benchmarks integrations conftest.py

step "Slurm dev cluster"
if [ -n "$SLURM_START_PID" ] && ! wait "$SLURM_START_PID"; then
    cat "$SLURM_LOG" >&2
    if [ "$(id -u)" = 0 ]; then echo "scripts/dev-clusters/slurm.sh start failed" >&2; exit 1; fi
    echo "not root: no Slurm dev cluster, the Slurm tests will be skipped" >&2
elif [ -z "$SLURM_START_PID" ]; then
    for _ in $(seq 60); do   # somebody else's cluster: wait out a test restarting a daemon
        bash scripts/dev-clusters/slurm.sh status >/dev/null 2>&1 && break
        sleep 2
    done
    if ! bash scripts/dev-clusters/slurm.sh status >&2 && [ "$(id -u)" = 0 ]; then
        bash scripts/dev-clusters/slurm.sh start >/dev/null   # stale or broken: restart it
    fi
fi
if [ -f "$SLURM_DIR/env.sh" ]; then
    # shellcheck disable=SC1091
    . "$SLURM_DIR/env.sh"
    export SLURM_CONF
fi

step "Grid Engine dev cell"
if [ -n "$SGE_START_PID" ] && ! wait "$SGE_START_PID"; then
    cat "$SGE_LOG" >&2
    if [ "$(id -u)" = 0 ]; then echo "scripts/dev-clusters/sge.sh start failed" >&2; exit 1; fi
    echo "not root: no Grid Engine dev cell, the Grid Engine tests will be skipped" >&2
fi

step "test login node (sshd)"
if [ -n "$SSHD_START_PID" ] && ! wait "$SSHD_START_PID"; then
    cat "$SSHD_LOG" >&2
    echo "scripts/dev-clusters/sshd.sh start failed" >&2
    exit 1
fi

step "chromium for the dashboard's browser tests"
if ! wait "$CHROMIUM_PID"; then cat "$CHROMIUM_LOG" >&2; exit 1; fi
cat "$CHROMIUM_LOG" >&2
# the browser tests' screenshots of the dashboard and the report (test artifacts, kept)
export DISTRIBUTOR_ARTIFACTS=${DISTRIBUTOR_ARTIFACTS:-$ROOT/artifacts}
if [ "$(id -u)" = 0 ]; then export DISTRIBUTOR_BROWSER=required; fi   # installed above: no skip

# Five pytest runs at once: the slow suites wait on real schedulers, not on the CPU. Each
# real cluster is used by one group only (the Slurm group stops slurmctld and slurmdbd for a
# while; the Grid Engine group fills the cell's two slots; the HTCondor group stops its schedd).
CRASH=tests/test_service_crash_batch.py
SNAKEMAKE=integrations/snakemake-executor-plugin-distributor/tests
JOBMON_SLURM=integrations/jobmon-plugin-distributor/tests/test_jobmon_workflow.py::test_workflow_on_slurm
# clusters behind SSH (the login node above): each cluster's tests in its cluster's group
SSH_SLURM_TESTS=(tests/test_ssh_slurm.py)
SSH_SGE_TESTS=(tests/test_ssh_sge.py)
SLURM_GROUP=(plugins/distributor-slurm tests/test_service_slurm_outage.py
             "$CRASH::test_slurm_controller_killed_at_20_points_runs_every_task_once"
             tests/test_jobs_slurm.py "$SNAKEMAKE/test_snakemake_slurm.py" "$JOBMON_SLURM"
             "${SSH_SLURM_TESTS[@]}")
SGE_GROUP=(plugins/distributor-sge
           "$CRASH::test_sge_controller_killed_at_20_points_runs_every_task_once"
           "$SNAKEMAKE/test_snakemake_sge.py" "${SSH_SGE_TESTS[@]}")
HTCONDOR_GROUP=("$ROOT/plugins/distributor-htcondor" "$ROOT/tests/test_service_htcondor_outage.py")
# "everything else" runs as two processes (tests/, and the other plugins with the integrations'
# local parts): both mostly wait on tasks of the local backend, not on the CPU
REST_GROUP=(tests --ignore=tests/test_service_slurm_outage.py
            --ignore=tests/test_service_htcondor_outage.py --ignore="$CRASH"
            --ignore=tests/test_jobs_slurm.py
            $(for t in "${SSH_SLURM_TESTS[@]}" "${SSH_SGE_TESTS[@]}"; do printf -- '--ignore=%s ' "$t"; done))
OTHERS_GROUP=(plugins --ignore=plugins/distributor-slurm --ignore=plugins/distributor-sge
              --ignore=plugins/distributor-htcondor
              "$SNAKEMAKE" --ignore="$SNAKEMAKE/test_snakemake_slurm.py"
              --ignore="$SNAKEMAKE/test_snakemake_sge.py"
              integrations/jobmon-plugin-distributor --deselect="$JOBMON_SLURM")
PYTEST_LOGS=$(mktemp -d)
CLEANUP+=('rm -rf "$PYTEST_LOGS"')
# The HTCondor group waits for its pool, then runs inside it as the pool's job user (HTCondor
# refuses jobs owned by root; a submit root is private to the user who runs distributor), from
# a directory of that user's (pytest's basetemp, hypothesis's database). Without root there is
# no pool: the group runs here and its real-pool tests skip, saying why.
htcondor_pytest() {
    local status env_file work
    if [ "$(id -u)" != 0 ]; then
        python -m pytest -p no:cacheprovider --basetemp="$PYTEST_LOGS/tmp-htcondor" "$@"
        return
    fi
    until [ -s "$HTCONDOR_DONE/start.status" ]; do sleep 1; done
    status=$(cat "$HTCONDOR_DONE/start.status")
    cat "$HTCONDOR_LOG"
    if [ "$status" != 0 ]; then
        echo "scripts/dev-clusters/htcondor.sh start failed (exit status $status)"
        return 1
    fi
    env_file=$(cat "$HTCONDOR_DONE/env")
    # shellcheck disable=SC1090
    . "$env_file"
    work=$(mktemp -d)
    chown "$DISTRIBUTOR_HTCONDOR_UID" "$work"
    (
        cd "$work"
        export DISTRIBUTOR_HTCONDOR_POOL=required   # its tests must not skip
        "$DISTRIBUTOR_HTCONDOR_POOL_EXEC" python -m pytest -c "$ROOT/pyproject.toml" \
            --rootdir="$ROOT" -p no:cacheprovider --basetemp="$work/tmp" "$@"
    )
    status=$?
    rm -rf "$work"
    return $status
}
step "pytest: Slurm, Grid Engine, HTCondor and everything else (two groups) in parallel (logs follow each group)"
pids=()
for group in slurm sge htcondor rest others; do
    case $group in
        slurm) args=("${SLURM_GROUP[@]}") ;;
        sge) args=("${SGE_GROUP[@]}") ;;
        htcondor) args=("${HTCONDOR_GROUP[@]}") ;;
        rest) args=("${REST_GROUP[@]}") ;;
        others) args=("${OTHERS_GROUP[@]}") ;;
    esac
    (
        set +e
        if [ "$group" = htcondor ]; then
            htcondor_pytest "$@" "${args[@]}" >"$PYTEST_LOGS/$group.log" 2>&1
        else
            python -m pytest -p no:cacheprovider --basetemp="$PYTEST_LOGS/tmp-$group" "$@" \
                "${args[@]}" >"$PYTEST_LOGS/$group.log" 2>&1
        fi
        echo $? >"$PYTEST_LOGS/$group.status"
    ) &
    pids+=($!)
done
wait "${pids[@]}"
failed=0
collected=0
for group in slurm sge htcondor rest others; do
    status=$(cat "$PYTEST_LOGS/$group.status")
    printf '\n== pytest %s: exit status %s\n' "$group" "$status" >&2
    if [ "$status" -eq 0 ]; then
        collected=1
        tail -n 5 "$PYTEST_LOGS/$group.log" >&2
    elif [ "$status" -eq 5 ]; then
        tail -n 3 "$PYTEST_LOGS/$group.log" >&2   # nothing selected in this group
    else
        collected=1
        failed=1
        cat "$PYTEST_LOGS/$group.log" >&2
    fi
done
if [ "$collected" -eq 0 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
[ "$failed" -eq 0 ] || exit 1

step "a plugin generated from the template: ruff, mypy --strict and its own tests (the kit)"
GENERATED=$(mktemp -d)
CLEANUP+=('python -m pip uninstall -y -q distributor-acme >/dev/null 2>&1' 'rm -rf "$GENERATED"')
python scripts/new-plugin.py acme "$GENERATED/distributor-acme"
python -m pip install --quiet --no-build-isolation --no-deps -e "$GENERATED/distributor-acme"
(
    cd "$GENERATED/distributor-acme"
    ruff check .
    mypy --strict --explicit-package-bases distributor_acme tests
    python -m pytest -q -p no:cacheprovider
)
python -m pip uninstall -y -q distributor-acme

step "wheels: build once, install into a clean environment, check discovery"
DIST=$(mktemp -d)
WHEEL_VENV=$(mktemp -d)
CLEANUP+=('rm -rf "$DIST" "$WHEEL_VENV"')
python -m build --wheel --no-isolation --outdir "$DIST" . >/dev/null
EXPECTED=(local good)
python -m build --wheel --no-isolation --outdir "$DIST" tests/fixtures/plugins/good >/dev/null
for p in "${PLUGINS[@]}"; do
    python -m build --wheel --no-isolation --outdir "$DIST" "$p" >/dev/null
    EXPECTED+=("$(sed -n '/entry-points."distributor.plugins"/{n;s/ *=.*//p}' "$p/pyproject.toml")")
done
"$PYTHON" -m venv "$WHEEL_VENV"
"$WHEEL_VENV/bin/python" -m pip install --quiet "$DIST"/*.whl
(cd "$DIST" && "$WHEEL_VENV/bin/python" - "${EXPECTED[@]}" <<'PY'
import sys
from importlib.resources import files

from distributor import available_plugins, load_plugin

assert files("distributor").joinpath("py.typed").is_file(), "py.typed missing from the wheel"
for asset in ("dashboard.css", "dashboard.js", "task.js"):  # the dashboard's, shipped (offline)
    assert files("distributor.dashboard").joinpath("static", asset).is_file(), asset
found = available_plugins()
for name in sys.argv[1:]:
    assert name in found, f"plugin {name!r} not discovered from its wheel: {sorted(found)}"
    load_plugin(name)
print("wheels ok:", ", ".join(f"{n} ({found[n].distribution} {found[n].version})" for n in sys.argv[1:]))
PY
)
# The README's first command, from the installed wheel (no editable source tree behind it).
DISTRIBUTOR_LOCAL_STATE_DIR="$DIST/state" "$WHEEL_VENV/bin/distributor" run --array 4 -- \
    sh -c 'echo step $DISTRIBUTOR_ARRAY_STEP_ID' >&2

step "a plugin's wheel alone, the package index reachable: it must pull in distributor-core"
# `distributor` on the package index is an unrelated project; a plugin depending on the wrong
# name would install it here.
PLUGIN_VENV=$(mktemp -d)
CLEANUP+=('rm -rf "$PLUGIN_VENV"')
"$PYTHON" -m venv "$PLUGIN_VENV"
"$PLUGIN_VENV/bin/python" -m pip install --quiet --find-links "$DIST" "$DIST"/distributor_slurm-*.whl
(cd "$PLUGIN_VENV" && "$PLUGIN_VENV/bin/python" - "$PLUGIN_VENV" <<'PY'
import sys
from importlib import metadata
from pathlib import Path

installed = {d.metadata["Name"].lower(): d.version for d in metadata.distributions()}
assert "distributor" not in installed, f"the unrelated 'distributor' came in: {installed}"
assert "distributor-core" in installed, f"distributor-core missing: {installed}"
import distributor

assert Path(distributor.__file__).is_relative_to(sys.argv[1]), distributor.__file__
assert "slurm" in distributor.available_plugins()
print("plugin wheel ok: distributor-core", installed["distributor-core"], "beside distributor-slurm")
PY
)

step "the Snakemake executor's wheel holds its module and py.typed"
python -m build --wheel --no-isolation --outdir "$DIST/snakemake" \
    integrations/snakemake-executor-plugin-distributor >/dev/null
python - "$DIST"/snakemake/*.whl <<'PY'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
package = "snakemake_executor_plugin_distributor"
for module in ("__init__.py", "executor.py", "settings.py", "py.typed"):
    assert f"{package}/{module}" in names, f"{package}/{module} missing from {sys.argv[1]}"
print("snakemake executor wheel ok:", sys.argv[1].rsplit("/", 1)[-1])
PY

step "the Jobmon bridge's wheel: a namespace portion that loads from the installed wheels"
python -m build --wheel --no-isolation --outdir "$DIST/jobmon" \
    integrations/jobmon-plugin-distributor >/dev/null
"$WHEEL_VENV/bin/python" -m pip install --quiet --no-deps "$DIST"/jobmon/*.whl
(cd "$DIST" && "$WHEEL_VENV/bin/python" - "$DIST"/jobmon/*.whl <<'PY'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for absent in ("jobmon/__init__.py", "jobmon/plugins/__init__.py"):  # Jobmon's namespace
    assert absent not in names, f"{absent} in {sys.argv[1]}: it would hide Jobmon's own modules"
for module in ("__init__.py", "bridge_distributor.py", "bridge_queue.py", "py.typed"):
    assert f"jobmon/plugins/distributor/{module}" in names, f"{module} missing from {sys.argv[1]}"
import jobmon.plugins.distributor as bridge

assert "site-packages" in bridge.__file__, bridge.__file__
assert bridge.get_cluster_queue_class()(1, "q", {"plugin": "local"}).plugin == "local"
print("jobmon bridge wheel ok:", sys.argv[1].rsplit("/", 1)[-1])
PY
)
