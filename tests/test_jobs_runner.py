"""Jobs through the service on the real ``local`` backend (`distributor.jobs.runner`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from distributor.jobs import (
    Job,
    JobError,
    JobRunner,
    JobStatus,
    MaxFilesSplitter,
    MaxSubjobsSplitter,
)
from distributor.jobs.staging import SharedFilesystem, SubjobPlan
from distributor.local import LocalDistributor
from distributor.service import Cluster, ServiceConfig

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the local backend needs Linux")

# The subjob's own Python: reads its share with get_input_data(), writes one output per input
# and a summary, and leaves a file that no pattern matches.
ANALYSE = """\
import json, os, sys
from pathlib import Path
from distributor.jobs import get_input_data

files = get_input_data()
out = Path("results")
out.mkdir()
for name in files:
    (out / (Path(name).name + ".upper")).write_text(Path(name).read_text().upper())
summary = {"files": files, "args": sys.argv[1:], "greeting": os.environ.get("GREETING"),
           "sandbox": Path("lookup.txt").read_text().strip()}
Path("summary.json").write_text(json.dumps(summary))
Path("scratch.tmp").write_text("not an output")
"""

FAST = ServiceConfig(min_poll_interval=0.02, poll_interval=0.2)


def _inputs(root: Path, count: int) -> list[str]:
    data = root / "data dir"
    data.mkdir()
    names = []
    for i in range(count):
        path = data / f"run {i} 'q' $x.txt"  # spaces, quotes and $ in every path
        path.write_text(f"event {i}\n")
        names.append(str(path))
    return names


def _cluster(tmp_path: Path, parallelism: int = 4) -> Cluster:
    distributor = LocalDistributor("local", state_dir=tmp_path / "state", parallelism=parallelism)
    return Cluster(distributor, default_queue=None)


def _job(tmp_path: Path, files: list[str], **kwargs: object) -> Job:
    (tmp_path / "analyse.py").write_text(ANALYSE)
    (tmp_path / "lookup.txt").write_text("from the sandbox\n")
    return Job(
        "upper",
        command=[sys.executable, "analyse.py", "--tag", "it's $HOME"],
        input_files=files,
        input_sandbox_files=[tmp_path / "analyse.py", tmp_path / "lookup.txt"],
        working_dir=tmp_path / "work",
        output_dir=tmp_path / "out",
        output_patterns=["results/*.upper", "summary.json"],
        setup_cmds=["export GREETING='set up first'"],
        backend_args={"memory": "200M", "runtime": "2m"},
        **kwargs,  # type: ignore[arg-type]
    )


def test_subjobs_read_their_files_and_their_outputs_are_collected(tmp_path: Path) -> None:
    """Seven files, at most three per subjob: three subjobs in one array, each reads its share
    with get_input_data() after its setup commands ran, and exactly the files matching the
    patterns land in output_dir/<id>/; the job is completed."""
    files = _inputs(tmp_path, 7)
    job = _job(tmp_path, files, splitter=MaxFilesSplitter(max_files_per_subjob=3))
    with JobRunner(tmp_path / "j.db", _cluster(tmp_path), config=FAST) as runner:
        runner.submit(job)
        assert runner.wait(timeout=120)
        infos = [runner.subjob_info(job.subjobs[i]) for i in range(3)]
    assert job.status is JobStatus.COMPLETED, [s.message for s in job.subjobs.values()]
    assert sorted(info.step for info in infos if info.step is not None) == [0, 1, 2]  # one array
    shares = [files[0:3], files[3:6], files[6:7]]
    for subjob_id, share in enumerate(shares):
        out = tmp_path / "out" / str(subjob_id)
        summary = json.loads((out / "summary.json").read_text())
        assert summary == {"files": share, "args": ["--tag", "it's $HOME"],
                           "greeting": "set up first", "sandbox": "from the sandbox"}  # fmt: skip
        uppers = sorted(p.name for p in (out / "results").iterdir())
        assert uppers == sorted(Path(name).name + ".upper" for name in share)
        assert not (out / "scratch.tmp").exists()
        collected = ["summary.json", *(f"results/{Path(n).name}.upper" for n in share)]
        assert runner.outputs[f"upper_{subjob_id}"] == sorted(collected)


def test_global_job_limit_keeps_at_most_that_many_subjobs_in_flight(tmp_path: Path) -> None:
    """With global_job_limit=1 on a backend that could run four at once, no two subjobs ever
    overlap: each takes a lock file exclusively while it runs and fails if it cannot."""
    files = _inputs(tmp_path, 6)
    lock = tmp_path / "running.lock"
    job = Job(
        "one-at-a-time",
        command=["sh", "-c", 'set -C; : > "$0" || exit 9; sleep 0.2; rm -f "$0"', str(lock)],
        input_files=files,
        working_dir=tmp_path / "w",
        output_dir=tmp_path / "o",
        splitter=MaxSubjobsSplitter(max_subjobs=6),
    )
    with JobRunner(tmp_path / "j.db", _cluster(tmp_path, parallelism=4), config=FAST,
                   global_job_limit=1, max_attempts=1) as runner:  # fmt: skip
        runner.submit(job)
        assert runner.wait(timeout=120)
    assert job.status is JobStatus.COMPLETED, [s.message for s in job.subjobs.values()]
    assert len(job.subjobs) == 6


def test_a_failing_setup_command_fails_the_subjob_and_collects_nothing(tmp_path: Path) -> None:
    """The first setup command that fails ends the subjob with its status; a failed subjob's
    outputs are not collected and the job is failed, saying why."""
    job = Job("broken", command=["touch", "made.out"], setup_cmds=["false", "touch setup.out"],
              working_dir=tmp_path / "w", output_dir=tmp_path / "o",
              output_patterns=["*.out"])  # fmt: skip
    with JobRunner(tmp_path / "j.db", _cluster(tmp_path), config=FAST, max_attempts=1) as runner:
        runner.submit(job)
        assert runner.wait(timeout=60)
    assert job.status is JobStatus.FAILED
    assert "exited with status 1" in job.subjobs[0].message
    assert not (tmp_path / "w" / "0" / "setup.out").exists()
    assert not (tmp_path / "o").exists()


def test_submitting_again_after_a_restart_runs_nothing_twice(tmp_path: Path) -> None:
    """A second runner on the same journal, given the same job, reattaches: the subjobs are
    not run again and the outputs are still where they were collected."""
    files = _inputs(tmp_path, 2)
    counter = tmp_path / "runs"
    command = ["sh", "-c", 'echo x >> "$0"; echo out > made.out', str(counter)]
    for _ in range(2):
        job = Job("again", command=command, input_files=files, working_dir=tmp_path / "w",
                  output_dir=tmp_path / "o", output_patterns=["made.out"],
                  splitter=MaxFilesSplitter(max_files_per_subjob=1))  # fmt: skip
        with JobRunner(tmp_path / "j.db", _cluster(tmp_path), config=FAST) as runner:
            runner.submit(job)
            assert runner.wait(timeout=60)
        assert job.status is JobStatus.COMPLETED
    assert counter.read_text().count("x") == 2
    assert runner.outputs == {"again_0": ["made.out"], "again_1": ["made.out"]}


def test_a_working_directory_of_another_definition_is_refused(tmp_path: Path) -> None:
    """A working directory prepared for another definition of the subjob is never reused."""
    staging = SharedFilesystem()
    first = Job("w", command=["true"], working_dir=tmp_path / "w")
    first.split()
    staging.stage_in(SubjobPlan.of(first.subjobs[0]))
    staging.stage_in(SubjobPlan.of(first.subjobs[0]))  # the same: a no-op
    other = Job("w", command=["false"], working_dir=tmp_path / "w")
    other.split()
    with pytest.raises(JobError, match="does not hold this definition of subjob 0"):
        staging.stage_in(SubjobPlan.of(other.subjobs[0]))


def test_collection_skips_links_out_of_the_working_directory(tmp_path: Path) -> None:
    """An output reached through a symbolic link to elsewhere is not copied; a link itself
    is copied as a link; a matching directory comes whole."""
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key.out").write_text("secret")
    job = Job("links", command=["true"], working_dir=tmp_path / "w", output_dir=tmp_path / "o",
              output_patterns=["*.out", "*/*.out", "plots"])  # fmt: skip
    job.split()
    plan = SubjobPlan.of(job.subjobs[0])
    SharedFilesystem().stage_in(plan)
    (plan.working_dir / "mine.out").write_text("mine")
    (plan.working_dir / "plots" / "deep").mkdir(parents=True)
    (plan.working_dir / "plots" / "deep" / "a.png").write_text("png")
    (plan.working_dir / "outside").symlink_to(tmp_path / "secret")
    (plan.working_dir / "link.out").symlink_to(tmp_path / "secret" / "key.out")
    assert SharedFilesystem().collect(plan) == ["link.out", "mine.out", "plots"]
    assert (tmp_path / "o" / "0" / "plots" / "deep" / "a.png").read_text() == "png"
    assert os.readlink(tmp_path / "o" / "0" / "link.out") == str(tmp_path / "secret" / "key.out")
    assert SharedFilesystem().collect(plan) == ["link.out", "mine.out", "plots"]  # once


def test_a_job_without_a_command_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """No command: JobError at submit, and nothing is written or added to the journal."""
    with JobRunner(tmp_path / "j.db", _cluster(tmp_path)) as runner:
        with pytest.raises(JobError, match="command=\\[\\] is empty"):
            runner.submit(Job("empty", working_dir=tmp_path / "w"))
        assert runner.service.summary().total == 0
    assert not (tmp_path / "w").exists()
