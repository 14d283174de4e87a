"""mypy, not a runtime surprise, tells plugin authors when a plugin does not fit."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from distributor import ClusterDistributor, ClusterQueue, ClusterWorkerNode

HERE = Path(__file__).parent / "typing"
ROOT = Path(__file__).parent.parent


def run_mypy(path: Path) -> subprocess.CompletedProcess[str]:
    """Run mypy --strict with the project's configuration on one file."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini"),
         "--no-incremental", "--strict", str(path)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_mypy_rejects_mismatched_constructors() -> None:
    """Pinning classes with the wrong constructors to the factory protocols fails type checking."""
    result = run_mypy(HERE / "bad_plugin_constructor.py")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {int(n) for n in re.findall(r"bad_plugin_constructor\.py:(\d+): error", result.stdout)}
    assert lines == {26, 27}, result.stdout
    assert "ClusterQueueFactory" in result.stdout
    assert "ClusterDistributorFactory" in result.stdout


@pytest.mark.slow
def test_mypy_accepts_a_public_api_plugin() -> None:
    """A plugin written only against the public API passes mypy --strict."""
    result = run_mypy(HERE / "good_plugin.py")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_accepts_a_plugin_typed_as_jobmon_documents() -> None:
    """A plugin with Jobmon's documented signatures (``List[str]`` ids, ``Dict`` requests, a
    ``(cluster_name: str, *args: str, **kwargs: str)`` constructor) passes mypy --strict."""
    result = run_mypy(HERE / "jobmon_style_plugin.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_good_plugin_instances_satisfy_runtime_protocols() -> None:
    """The runtime-checkable protocols recognise the good plugin's objects."""
    spec = importlib.util.spec_from_file_location("good_plugin", HERE / "good_plugin.py")
    assert spec is not None
    assert spec.loader is not None
    good_plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(good_plugin)
    assert isinstance(good_plugin.TidyQueue(1, "q", {}), ClusterQueue)
    assert isinstance(good_plugin.TidyDistributor("c"), ClusterDistributor)
    assert isinstance(good_plugin.TidyWorkerNode(), ClusterWorkerNode)


@pytest.mark.slow
def test_mypy_checks_the_arguments_of_submitted_calls() -> None:
    """`Executor.submit` is typed by the function: wrong argument types, an extra positional
    and a misspelt keyword are errors, and the result's type is inferred."""
    result = run_mypy(HERE / "bad_futures.py")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {int(n) for n in re.findall(r"bad_futures\.py:(\d+): error", result.stdout)}
    assert lines == {17, 18, 19, 20, 21}, result.stdout
    assert re.search(r'Revealed type is "(builtins\.)?float"', result.stdout), result.stdout


@pytest.mark.slow
def test_mypy_accepts_well_typed_calls_and_infers_results() -> None:
    """The good examples pass mypy --strict, `assert_type` included."""
    result = run_mypy(HERE / "futures_ok.py")
    assert result.returncode == 0, result.stdout + result.stderr
