"""The local backend's CPU count: the affinity mask capped by the cgroup CPU quota."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor.local import LocalDistributor, LocalQueue
from distributor.local.cpus import (
    available_cpus,
    cgroup_cpu_limit,
    parse_cfs_quota,
    parse_cpu_max,
)

_REPORT = "from distributor.local.cpus import available_cpus; print(available_cpus())"


def _mountinfo(*mounts: tuple[str, Path, str, str]) -> str:
    """mountinfo lines for (root, mount point, fstype, super options), escaped like the kernel's."""
    lines = []
    for number, (root, point, fstype, options) in enumerate(mounts, start=30):
        escaped = str(point).replace("\\", "\\134").replace(" ", "\\040")
        lines.append(
            f"{number} 23 0:{number} {root} {escaped} rw,relatime shared:9 - {fstype} cgroup "
            f"{options}"
        )
    return "\n".join(["22 1 8:1 / / rw,relatime - ext4 /dev/vda rw", *lines]) + "\n"


def _proc(tmp_path: Path, cgroup: str, mountinfo: str) -> Path:
    """A stand-in for ``/proc/self`` holding `cgroup` and `mountinfo`."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text(mountinfo)
    return proc


def _write(directory: Path, **files: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name.replace("_", ".", 1)).write_text(text + "\n")


def _ceil(quota: int, period: int) -> int:
    return max(1, math.ceil(Fraction(quota, period)))


# -- parsers ----------------------------------------------------------------------------------


@given(st.integers(1, 10**12), st.integers(1, 10**7))
def test_cpu_max_reads_quota_over_period_rounded_up(quota: int, period: int) -> None:
    """``cpu.max`` "Q P" allows ceil(Q/P) CPUs, never fewer than 1."""
    assert parse_cpu_max(f"{quota} {period}\n") == _ceil(quota, period)


@given(st.integers(1, 10**7))
def test_cpu_max_without_a_limit_is_none(period: int) -> None:
    """``cpu.max`` "max P" sets no quota."""
    assert parse_cpu_max(f"max {period}\n") is None


@given(st.integers(1, 10**12))
def test_cpu_max_period_defaults_to_100ms(quota: int) -> None:
    """A bare quota is over the kernel's default period of 100000 µs."""
    assert parse_cpu_max(str(quota)) == _ceil(quota, 100_000)


@given(st.text(max_size=40))
def test_cpu_max_never_raises(text: str) -> None:
    """Whatever a ``cpu.max`` holds, the answer is no quota or a count of at least 1."""
    result = parse_cpu_max(text)
    assert result is None or result >= 1


@given(st.integers(1, 10**12), st.integers(1, 10**7))
def test_cfs_quota_reads_quota_over_period_rounded_up(quota: int, period: int) -> None:
    """cgroup v1 ``cfs_quota_us`` over ``cfs_period_us`` allows ceil(quota/period) CPUs."""
    assert parse_cfs_quota(f"{quota}\n", f"{period}\n") == _ceil(quota, period)


@pytest.mark.parametrize(("quota", "period"), [("-1", "100000"), ("100000", "0"), ("", ""),
                                               ("abc", "100000"), ("1.5", "1")])  # fmt: skip
def test_cfs_quota_without_a_usable_limit_is_none(quota: str, period: str) -> None:
    """-1 (unlimited), a zero period and malformed numbers set no quota."""
    assert parse_cfs_quota(quota, period) is None


# -- cgroup layouts in a temporary directory --------------------------------------------------


def test_v2_limit_held_by_a_parent_applies(tmp_path: Path) -> None:
    """A quota on an ancestor of this process's cgroup binds it (the walk goes up to the root)."""
    root = tmp_path / "cgroup"
    _write(root / "job.slice", cpu_max="400000 100000")
    _write(root / "job.slice" / "step", cpu_max="max 100000")
    proc = _proc(tmp_path, "0::/job.slice/step\n", _mountinfo(("/", root, "cgroup2", "rw")))
    assert cgroup_cpu_limit(proc) == 4


def test_v2_tightest_limit_on_the_path_wins(tmp_path: Path) -> None:
    """The smallest quota between the cgroup and the root is the one that binds."""
    root = tmp_path / "cgroup"
    _write(root, cpu_max="max 100000")  # the root never has one; harmless if it did
    _write(root / "a", cpu_max="800000 100000")
    _write(root / "a" / "b", cpu_max="150000 100000")
    proc = _proc(tmp_path, "0::/a/b\n", _mountinfo(("/", root, "cgroup2", "rw")))
    assert cgroup_cpu_limit(proc) == 2


def test_v2_without_a_quota_is_none(tmp_path: Path) -> None:
    """No quota anywhere ("max", and no file at the root) means None."""
    root = tmp_path / "cgroup"
    _write(root / "user.slice", cpu_max="max 100000")
    proc = _proc(tmp_path, "0::/user.slice\n", _mountinfo(("/", root, "cgroup2", "rw")))
    assert cgroup_cpu_limit(proc) is None


def test_v1_cpu_controller_quota(tmp_path: Path) -> None:
    """cgroup v1 with ``cpu,cpuacct`` co-mounted: the parent's 2.5-CPU quota gives 3."""
    cpu = tmp_path / "cpu,cpuacct"
    _write(cpu / "slurm" / "job_7", cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    _write(cpu / "slurm", cpu_cfs_quota_us="250000", cpu_cfs_period_us="100000")
    cgroup = "4:memory:/slurm/job_7\n3:cpu,cpuacct:/slurm/job_7\n0::/\n"
    mounts = _mountinfo(("/", cpu, "cgroup", "rw,cpu,cpuacct"),
                        ("/", tmp_path / "memory", "cgroup", "rw,memory"))  # fmt: skip
    assert cgroup_cpu_limit(_proc(tmp_path, cgroup, mounts)) == 3


def test_hybrid_hierarchies_take_the_smaller(tmp_path: Path) -> None:
    """With cgroup v1 and v2 both mounted, the tighter of their quotas applies."""
    v1, v2 = tmp_path / "cpu", tmp_path / "unified"
    _write(v1 / "job", cpu_cfs_quota_us="600000", cpu_cfs_period_us="100000")
    _write(v2 / "job", cpu_max="200000 100000")
    mounts = _mountinfo(("/", v1, "cgroup", "rw,cpu"), ("/", v2, "cgroup2", "rw"))
    assert cgroup_cpu_limit(_proc(tmp_path, "1:cpu:/job\n0::/job\n", mounts)) == 2


def test_container_mount_of_its_own_cgroup(tmp_path: Path) -> None:
    """Without a cgroup namespace the container's cgroup is mounted as the root: the path in
    ``/proc/self/cgroup`` is mapped through the mount's root, not appended to it."""
    root = tmp_path / "sys fs cgroup"  # a space, escaped as \\040 in mountinfo
    _write(root, cpu_max="300000 100000")
    _write(root / "inner", cpu_max="max 100000")
    mounts = _mountinfo(("/docker/abc", root, "cgroup2", "rw"))
    assert cgroup_cpu_limit(_proc(tmp_path, "0::/docker/abc/inner\n", mounts)) == 3


def test_unreadable_layouts_mean_no_quota(tmp_path: Path) -> None:
    """No ``/proc`` files, no cgroup mount, or malformed lines: no quota, no exception."""
    assert cgroup_cpu_limit(tmp_path / "absent") is None
    proc = _proc(tmp_path, "garbage\n\n0::/x\n", "garbage line\n1 2 3 - cgroup2\n")
    assert cgroup_cpu_limit(proc) is None


def test_available_cpus_is_capped_by_the_quota(tmp_path: Path) -> None:
    """A 1-CPU quota gives 1 whatever the affinity mask holds."""
    root = tmp_path / "cgroup"
    _write(root / "job", cpu_max="50000 100000")
    proc = _proc(tmp_path, "0::/job\n", _mountinfo(("/", root, "cgroup2", "rw")))
    assert available_cpus(proc) == 1


def test_available_cpus_is_the_affinity_without_a_quota(tmp_path: Path) -> None:
    """A quota above the affinity mask's size does not raise the count past the mask."""
    root = tmp_path / "cgroup"
    _write(root / "job", cpu_max=f"{1000 * 100000} 100000")
    proc = _proc(tmp_path, "0::/job\n", _mountinfo(("/", root, "cgroup2", "rw")))
    assert available_cpus(proc) == len(os.sched_getaffinity(0))


# -- the real thing -----------------------------------------------------------------------------


def _run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    return result.stdout.strip()


def test_affinity_mask_is_followed() -> None:
    """A process pinned to one CPU (as ``taskset -c 0`` would) counts 1 and runs one task at a
    time by default; its queue offers 1 core."""
    cpu = min(os.sched_getaffinity(0))
    code = f"""
import os
os.sched_setaffinity(0, {{{cpu}}})
from distributor.local import LocalDistributor, LocalQueue
from distributor.local.cpus import available_cpus
print(available_cpus(), LocalDistributor().parallelism, LocalQueue(1, "l", {{}}).limits.max_cores)
"""
    assert _run_python(code) == "1 1 1"


def test_explicit_parallelism_wins(tmp_path: Path) -> None:
    """`parallelism=` given to the constructor is used as is, above the detected count too."""
    assert LocalDistributor(state_dir=tmp_path, parallelism=64).parallelism == 64
    assert LocalDistributor(state_dir=tmp_path).parallelism == available_cpus()
    assert LocalQueue(1, "local", {}).limits.max_cores == available_cpus()


def _real_mount(version: int) -> tuple[Path, Path] | None:
    """(mount point, this process's cgroup directory) in the live hierarchy of `version`."""
    memberships = Path("/proc/self/cgroup").read_text().splitlines()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        dash = fields.index("-") if "-" in fields else -1
        if dash < 0 or fields[3] != "/":
            continue
        fstype, options = fields[dash + 1], fields[dash + 3].split(",")
        wanted = "cgroup2" if version == 2 else "cgroup"
        if fstype != wanted or (version == 1 and "cpu" not in options):
            continue
        for member in memberships:
            hierarchy, controllers, path = member.split(":", 2)
            if (version == 2 and hierarchy == "0") or (
                version == 1 and "cpu" in controllers.split(",")
            ):
                return Path(fields[4]), Path(fields[4]) / path.lstrip("/")
    return None


@contextlib.contextmanager
def _child_cgroup(parent: Path) -> Iterator[Path]:
    """A fresh cgroup under `parent`, removed afterwards (it must be empty by then)."""
    child = parent / f"distributor-test-{os.getpid()}-{secrets.token_hex(3)}"
    child.mkdir()
    try:
        yield child
    finally:
        child.rmdir()


def _joined(cgroup: Path) -> str:
    """What a Python process that moved itself into `cgroup` reports."""
    return _run_python(
        f"import os; open({str(cgroup / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
        + _REPORT
    )


def test_real_cgroup_v1_quota_held_by_a_parent() -> None:
    """In a real cgroup v1 ``cpu`` hierarchy, a 1-CPU quota on the parent of the process's
    cgroup makes it count 1."""
    found = _real_mount(1)
    if found is None:
        pytest.skip("no cgroup v1 hierarchy with the cpu controller is mounted here")
    _, own = found
    if os.geteuid() != 0 or not os.access(own, os.W_OK):
        pytest.skip(f"cannot create a cgroup under {own} (needs root and a writable hierarchy)")
    with _child_cgroup(own) as parent:
        (parent / "cpu.cfs_period_us").write_text("100000")
        (parent / "cpu.cfs_quota_us").write_text("100000")
        with _child_cgroup(parent) as child:
            assert (child / "cpu.cfs_quota_us").read_text().strip() == "-1"
            assert _joined(child) == "1"


def test_real_cgroup_v2_quota() -> None:
    """In a real cgroup v2 hierarchy, a 1-CPU ``cpu.max`` makes the process count 1."""
    found = _real_mount(2)
    if found is None:
        pytest.skip("no cgroup v2 hierarchy is mounted here")
    point, own = found
    available = (own / "cgroup.controllers").read_text().split()
    if "cpu" not in available:
        pytest.skip(
            f"the cpu controller is not available in the cgroup v2 hierarchy at {point} "
            f"({own / 'cgroup.controllers'} lists {' '.join(available) or 'nothing'}); "
            "it is bound to cgroup v1 here"
        )
    if os.geteuid() != 0 or not os.access(own, os.W_OK):
        pytest.skip(f"cannot create a cgroup under {own} (needs root and a writable hierarchy)")
    control = own / "cgroup.subtree_control"
    enabled = "cpu" in control.read_text().split()
    if not enabled:
        try:
            control.write_text("+cpu")
        except OSError as exc:  # EBUSY: a non-root cgroup holding processes cannot delegate
            pytest.skip(f"cannot enable the cpu controller for children of {own}: {exc}")
    try:
        with _child_cgroup(own) as child:
            (child / "cpu.max").write_text("100000 100000")
            assert _joined(child) == "1"
    finally:
        if not enabled:
            with contextlib.suppress(OSError):
                control.write_text("-cpu")
