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

step "fresh virtual environment in $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip hatchling editables

step "install the core and every plugin (editable), as the README says"
mapfile -t PLUGINS < <(find plugins -mindepth 1 -maxdepth 1 -type d -name 'distributor-*' | sort)
python -m pip install --quiet --no-build-isolation -e ".[test]" \
    $(for p in "${PLUGINS[@]}"; do printf -- '-e %s ' "$p"; done)

step "ruff"
ruff check .
ruff format --check .

step "mypy --strict"
mypy distributor plugins tests

step "pytest"
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

step "wheels: build once, install into a clean environment, check discovery"
DIST=$(mktemp -d)
WHEEL_VENV=$(mktemp -d)
trap 'rm -rf "$DIST" "$WHEEL_VENV"' EXIT
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
