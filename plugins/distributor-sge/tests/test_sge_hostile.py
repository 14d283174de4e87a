"""Hostile names, commands, resources, ids and environment values: run literally or rejected,
never executed — and jobs see the submitter's environment, not the exec daemon's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import ResourceError, TaskInstanceStatus, UnknownDistributorIdError
from distributor.batch import SubmitRootError
from distributor.testing import wait_for_exit_info
from distributor.testing.hostile import HOSTILE_IDS, HOSTILE_VALUES, hostile_name
from distributor_sge import SgeDistributor
from distributor_sge.scheduler import sge_job_name
from distributor_sge.testing import cell_environment, dev_distributor, unavailable_reason

ENV = cell_environment()
WHY_NOT = unavailable_reason(ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q"))
live = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
TIMEOUT = 120.0


@pytest.fixture
def sge(tmp_path: Path) -> SgeDistributor:
    """A started distributor on a private submit root."""
    return dev_distributor(tmp_path / "root")


@given(st.text())
def test_job_names_are_always_acceptable_to_grid_engine(name: str) -> None:
    """Names become [A-Za-z0-9_.-] words that do not start with a digit, '.' or '-'."""
    cleaned = sge_job_name(name)
    assert 0 < len(cleaned) <= 64 and not cleaned[0].isdigit() and cleaned[0] not in ".-"
    assert all(ch.isascii() and (ch.isalnum() or ch in "_.-") for ch in cleaned)


@live
def test_a_hostile_name_never_becomes_a_directive(sge: SgeDistributor, tmp_path: Path) -> None:
    """Newlines and other schedulers' directive lines in a name stay out of the job script's
    directives: exactly one ``-N``. (That such names and commands run literally is the
    conformance kit's `check_hostile_input`.)"""
    pwned = tmp_path / "pwned"
    did = sge.submit_to_batch_distributor("true", "9 " + hostile_name(pwned), {"runtime": 60})
    assert wait_for_exit_info(sge, did, TIMEOUT, 0.2).error_state == TaskInstanceStatus.DONE
    script = next((tmp_path / "root").glob("*/job.sh")).read_text()
    directives = script.split("# identity")[0]
    assert script.count("#$ -N ") == 1 and "h_vmem=1" not in directives
    assert not pwned.exists()


@live
def test_directive_lines_in_commands_and_values_are_not_directives(
    tmp_path: Path,
) -> None:
    """qsub reads ``#$`` lines anywhere in a script; a command or an environment value with a
    line starting ``#$`` must still run literally and set nothing."""
    out = tmp_path / "out.txt"
    command = f"printf '%s|' 'a\n#$ -N injected\n' \"$V\" > {out}"
    value = "x\n#$ -N injected2\n"
    sge = dev_distributor(tmp_path / "root", environment={"V": value})
    did = sge.submit_to_batch_distributor(command, "plain", {})
    info = wait_for_exit_info(sge, did, TIMEOUT, 0.2)
    assert info.error_state == TaskInstanceStatus.DONE, info
    assert out.read_text() == f"a\n#$ -N injected\n|{value}|"
    task_dir = next((tmp_path / "root").glob("plain-*"))
    assert (task_dir / f"plain.o{did}").exists() and not list(task_dir.glob("injected.*"))


HOSTILE_RESOURCES: list[Mapping[str, object]] = [
    *({key: value} for key in ("queue", "sge.project") for value in HOSTILE_VALUES),
    {"sge.array_cap": "0"},
    {"sge.queue": "all.q"},
    {"memory": "lots"},
    {"cores": 0},
]


@live
@pytest.mark.parametrize("resources", HOSTILE_RESOURCES)
def test_hostile_resources_are_rejected_before_qsub(
    sge: SgeDistributor, resources: Mapping[str, object]
) -> None:
    """Malformed or unknown resource values raise ResourceError naming the key."""
    with pytest.raises(ResourceError) as caught:
        sge.submit_to_batch_distributor("true", "x", resources)
    assert caught.value.key in {*resources, "queue"}
    assert sge.client.runner.calls["qsub"] == 0


@live
@pytest.mark.parametrize("bogus", [*HOSTILE_IDS, "12.", "12.0"])
def test_hostile_ids_are_unknown_and_never_reach_grid_engine(
    sge: SgeDistributor, bogus: str
) -> None:
    """Ids that are not JOB or JOB.TASK are unknown, not running, and never deleted."""
    with pytest.raises(UnknownDistributorIdError):
        sge.get_remote_exit_info(bogus)
    assert sge.get_submitted_or_running([bogus]) == set()
    assert sge.get_queueing_errors([bogus]) == {}
    sge.terminate_task_instances([bogus])
    assert sge.client.runner.calls["qdel"] == 0


def test_unsafe_paths_and_options_are_refused(tmp_path: Path) -> None:
    """A submit root or working directory that cannot be a directive is refused up front."""
    with pytest.raises(SubmitRootError, match="' '"):
        SgeDistributor("dev", submit_root=tmp_path / "with space")
    with pytest.raises(ResourceError, match="working_directory"):
        SgeDistributor("dev", submit_root=tmp_path / "r", working_directory="/tmp/a b")
    with pytest.raises(ResourceError, match="parallel_environment"):
        SgeDistributor("dev", submit_root=tmp_path / "r", parallel_environment="smp 2 -V")
    with pytest.raises(ResourceError, match="environment"):
        SgeDistributor("dev", submit_root=tmp_path / "r", environment={"A B": "1"})
    with pytest.raises(ResourceError, match="environment"):
        SgeDistributor("dev", submit_root=tmp_path / "r", inherit_environment=["PATH;id"])
    with pytest.raises(TypeError, match="bogus"):
        SgeDistributor("dev", submit_root=tmp_path / "r", bogus=1)  # type: ignore[call-arg]  # on purpose
    with pytest.raises(TypeError, match="positional"):
        SgeDistributor("dev", tmp_path / "r")  # type: ignore[call-arg]  # options are keyword-only


@live
def test_jobs_see_the_submitters_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATH and the given variables reach the job quoted exactly; -V passes everything."""
    hostile = 'it\'s $(id) `id` \\ "x"\nline'
    monkeypatch.setenv("PATH", f"{tmp_path}/bin:{Path('/usr/bin')}:/bin")
    monkeypatch.setenv("DISTRIBUTOR_SGE_TEST_ONLY_V", "passed with -V")
    out = tmp_path / "env.txt"
    command = f'printf "%s|%s|%s" "$PATH" "$HOSTILE" "$DISTRIBUTOR_SGE_TEST_ONLY_V" > {out}'
    listed = dev_distributor(tmp_path / "a", environment={"HOSTILE": hostile})
    did = listed.submit_to_batch_distributor(command, "env", {})
    assert wait_for_exit_info(listed, did, TIMEOUT, 0.2).error_state == TaskInstanceStatus.DONE
    assert out.read_text() == f"{tmp_path}/bin:/usr/bin:/bin|{hostile}|"
    everything = dev_distributor(tmp_path / "b", inherit_environment=True)
    did = everything.submit_to_batch_distributor(command, "env", {})
    assert wait_for_exit_info(everything, did, TIMEOUT, 0.2).error_state == TaskInstanceStatus.DONE
    assert out.read_text().endswith("||passed with -V")
