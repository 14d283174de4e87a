"""Every error carries its offending data and names it in its message."""

from __future__ import annotations

import pytest

from distributor import (
    DistributorError,
    ExitInfoError,
    PluginConflictError,
    PluginContractError,
    PluginLoadError,
    PluginNotFoundError,
    RemoteExitInfoNotAvailable,
    ResourceError,
    SchedulerError,
    SchedulerOutputError,
    SubmissionError,
    UnknownDistributorIdError,
)


def test_not_found_lists_installed_and_suggests_install() -> None:
    """PluginNotFoundError names the request, the installed plugins and the fix."""
    err = PluginNotFoundError("slurmm", ["local", "slurm"], "distributor.plugins")
    assert isinstance(err, LookupError)
    assert isinstance(err, DistributorError)
    assert "'slurmm'" in str(err)
    assert "local, slurm" in str(err)
    assert "misspelled or not installed" in str(err)


def test_load_error_names_entry_point_and_distribution() -> None:
    """PluginLoadError names the entry point, distribution and version."""
    err = PluginLoadError("x", "pkg.mod:plugin", "distributor-x", "1.2", "ImportError: boom")
    assert isinstance(err, ImportError)
    for part in ("pkg.mod:plugin", "distributor-x 1.2", "boom"):
        assert part in str(err)


def test_contract_and_conflict_errors_name_the_parts() -> None:
    """PluginContractError lists what is missing; PluginConflictError names both claimants."""
    contract = PluginContractError("plugin 'x'", ["distributor.stop"])
    assert isinstance(contract, TypeError)
    assert "distributor.stop" in str(contract)
    conflict = PluginConflictError("x", ["a 1.0", "b 2.0"])
    assert "a 1.0" in str(conflict)
    assert "b 2.0" in str(conflict)


def test_scheduler_error_keeps_argv_status_and_stderr() -> None:
    """SchedulerError keeps the command, its status and stderr, and shows them."""
    err = SchedulerError("sbatch failed", argv=["sbatch", "x.sh"], returncode=1, stderr="denied")
    assert err.argv == ("sbatch", "x.sh")
    assert err.returncode == 1
    assert err.stderr == "denied"
    assert "denied" in str(err)
    assert "sbatch" in str(err)


def test_output_error_keeps_raw_text() -> None:
    """SchedulerOutputError keeps the raw output and is a ValueError."""
    err = SchedulerOutputError("cannot parse squeue", "garbage|||", argv=["squeue"])
    assert isinstance(err, ValueError)
    assert isinstance(err, SchedulerError)
    assert err.raw == "garbage|||"
    assert "garbage|||" in str(err)


@pytest.mark.parametrize(
    ("err", "needle"),
    [
        (ResourceError("memory", "-1G", "must be greater than zero"), "-1G"),
        (ExitInfoError(("Q", 3), "bad"), "('Q', 3)"),
        (SubmissionError("refused job 'a b'", name="a b"), "a b"),
        (UnknownDistributorIdError("123", "slurm"), "123"),
        (RemoteExitInfoNotAvailable("42", "still running"), "42"),
    ],
)
def test_message_names_offending_value(err: DistributorError, needle: str) -> None:
    """Each remaining error names the value it is about."""
    assert needle in str(err)
