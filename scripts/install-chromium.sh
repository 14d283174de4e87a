#!/usr/bin/env bash
# Debian's chromium for the dashboard's browser tests (driven headless by Playwright through
# the system executable: no browser is ever downloaded). Installs it with apt-get only if it is
# missing and we are root; otherwise says why the browser tests will skip. Safe beside other
# apt runs (slurm.sh, sge.sh, htcondor.sh): it waits for the dpkg lock and retries.
#   bash scripts/install-chromium.sh
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium)"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing and cannot be installed here (needs root and apt-get):" \
        "the dashboard's browser tests will be skipped" >&2
    exit 0
fi
LOCK=(-o DPkg::Lock::Timeout=600)
for attempt in 1 2 3 4 5; do
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${LOCK[@]}" \
        chromium >&2; then
        echo "chromium: $(command -v chromium)"
        exit 0
    fi
    echo "apt-get install chromium failed (attempt $attempt): updating the lists, retrying" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -q "${LOCK[@]}" >&2 || sleep 10
done
echo "could not install chromium" >&2
exit 1
