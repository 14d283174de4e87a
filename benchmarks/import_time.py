"""What ``import distributor`` costs a program, against ``python -c pass`` in the same run.

Runs the interpreters alternately (so a busy machine slows all alike), N times each (default
40), and prints the median wall time of each, the difference (the import's cost; the target is
≤ 50 ms) and the ratio. The package's names load on first use, so it also times the whole
public API (every name but ``__version__`` touched: what a plugin or an engine pays) and, for
scale, the standard library modules the contracts cannot do without (``typing``,
``dataclasses``, ``enum``, ``re``: the floor of any typed package), then how many modules the
API adds and the five slowest by ``-X importtime``.

    python benchmarks/import_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

TARGET_MS = 50.0
FLOOR = "import typing, dataclasses, enum, re"
IMPORT = "import distributor"
API = "import distributor\nfor name in distributor._WHERE: getattr(distributor, name)"

# Bytecode is cached, as pip's install of a wheel does: the warm-up run writes what is missing.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def wall_time(code: str) -> float:
    """Seconds for a fresh interpreter to run `code` and exit."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    return time.perf_counter() - began


def added_modules(code: str) -> list[str]:
    """The modules that running `code` adds to a bare interpreter."""
    code = (
        "import sys\nbefore = set(sys.modules)\n" + code + "\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return done.stdout.split()


def slowest(code: str, count: int = 5) -> list[tuple[int, str]]:
    """The `count` modules with the largest self time (µs) under ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
    )
    rows: list[tuple[int, str]] = []
    for line in done.stderr.splitlines()[1:]:
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append((int(parts[0]), parts[2].strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    cases = {"pass": "pass", "floor": FLOOR, "import": IMPORT, "api": API}
    for code in cases.values():  # warm the file cache and write missing bytecode
        wall_time(code)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, code in cases.items():
            times[name].append(wall_time(code))
    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    cost = ms["import"] - ms["pass"]
    verdict = "within" if cost <= TARGET_MS else "OVER"
    print(f"python -c pass                  {ms['pass']:6.1f} ms (median of {args.runs})")
    print(f"python -c 'import distributor'  {ms['import']:6.1f} ms")
    print(
        f"import cost                     {cost:6.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)"
    )
    print(f"ratio import/bare               {ms['import'] / ms['pass']:6.2f}")
    print(f"whole public API, cost          {ms['api'] - ms['pass']:6.1f} ms")
    print(f"of which the stdlib floor       {ms['floor'] - ms['pass']:6.1f} ms ({FLOOR})")
    print(f"modules the API adds            {len(added_modules(API)):6d}")
    print("slowest (self µs)               " + ", ".join(f"{n} {us}" for us, n in slowest(API)))


if __name__ == "__main__":
    main()
