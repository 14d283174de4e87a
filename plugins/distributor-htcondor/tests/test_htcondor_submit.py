"""Submit descriptions: the commands written, quoting, and hostile values refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import ResourceError, ResourceRequest
from distributor_htcondor.submit import (
    MEMORY_POLICY,
    SubmitDescription,
    classad_string,
    plain_value,
)

TASK = Path("/shared/root/task-1")
LINE = re.compile(r"(#[^\n]*|[+A-Za-z][A-Za-z0-9_.]* = [^\n]*|queue [1-9][0-9]*)")


def commands(text: str) -> dict[str, str]:
    """``command → value`` of a description (comments and the queue line left out)."""
    out = {}
    for line in text.splitlines():
        if " = " in line and not line.startswith("#"):
            key, _, value = line.partition(" = ")
            out[key] = value
    return out


def test_description_for_a_full_request() -> None:
    """Every requested resource becomes its submit command, in HTCondor's units."""
    request = ResourceRequest(
        memory_bytes=3 * 2**30 + 1, runtime_seconds=5400, cores=4, gpus=1, queue="short"
    )
    text = SubmitDescription(
        TASK / "job.sh", TASK, count=3, request=request, label="fit model"
    ).render()
    got = commands(text)
    assert got["executable"] == "/shared/root/task-1/job.sh"
    assert got["output"] == "/shared/root/task-1/stdout-$(Process).log"
    assert got["environment"] == (
        '"DISTRIBUTOR_CONDOR_CLUSTER=$(Cluster) DISTRIBUTOR_CONDOR_PROC=$(Process)"'
    )
    assert got["request_cpus"] == "4"
    assert got["request_memory"] == str(3 * 1024 + 1)  # MiB, rounded up
    assert got["request_gpus"] == "1"
    assert got["allowed_job_duration"] == "5460"  # the request + the 60 s backstop
    assert got["job_max_vacate_time"] == "10"  # SIGKILL 10 s after SIGTERM, not 10 minutes
    assert "allowed_execute_duration" not in got  # not enforced by 23.9.6 without transfer
    assert got["periodic_hold"] == MEMORY_POLICY
    assert got["periodic_hold_subcode"] == "102"
    assert got["batch_name"] == "fit_model"
    assert got["+DistributorName"] == '"fit_model"'
    assert got["+DistributorQueue"] == '"short"'
    assert text.endswith("queue 3\n")


def test_silent_request_writes_no_limits() -> None:
    """Without a request there is no request_* command and no memory policy."""
    got = commands(SubmitDescription(TASK / "job.sh", TASK).render())
    assert not any(key.startswith(("request_", "allowed_", "periodic_")) for key in got)


def test_memory_policy_can_be_left_out() -> None:
    """memory_policy=False keeps request_memory but writes no periodic_hold."""
    request = ResourceRequest(memory_bytes=2**30)
    got = commands(
        SubmitDescription(TASK / "j", TASK, request=request, memory_policy=False).render()
    )
    assert got["request_memory"] == "1024" and "periodic_hold" not in got


def test_the_pools_runtime_backstop_is_configurable() -> None:
    """allowed_job_duration is the runtime request plus duration_backstop, rounded up, and a
    negative backstop is refused."""
    request = ResourceRequest(runtime_seconds=10)
    description = SubmitDescription(TASK / "j", TASK, request=request, duration_backstop=2.5)
    got = commands(description.render())
    assert got["allowed_job_duration"] == "13"
    with pytest.raises(ValueError, match="duration_backstop"):
        SubmitDescription(TASK / "j", TASK, request=request, duration_backstop=-1).render()


@given(st.text(max_size=80), st.text(max_size=40))
def test_hostile_names_and_queues_cannot_add_commands(name: str, queue: str) -> None:
    """Whatever the name and queue, every line is one command, comment or queue statement."""
    queue = queue.strip() or "q"
    request = ResourceRequest(queue=queue)
    text = SubmitDescription(TASK / "job.sh", TASK, request=request, label=name).render()
    lines = text.splitlines()
    assert all(LINE.fullmatch(line) for line in lines), text
    assert len(lines) == 14
    assert sum(line.startswith("queue ") for line in lines) == 1
    assert "$(" not in commands(text)["batch_name"] + commands(text)["+DistributorName"]


@pytest.mark.parametrize(
    "path", ["/a b/job.sh", "/a$(x)/job.sh", "/a\n+X = 1/job.sh", "/a#b/job.sh", '/a"b/job.sh']
)
def test_unsafe_paths_are_refused(path: str) -> None:
    """Paths that the submit language cannot carry raise ResourceError naming the key."""
    with pytest.raises(ResourceError) as caught:
        SubmitDescription(Path(path), TASK).render()
    assert caught.value.key == "executable"


@pytest.mark.parametrize("value", ["", "a b", "a\nqueue 5", "$(Cluster)", "x#y", "'q'"])
def test_plain_values_are_checked(value: str) -> None:
    """Unquotable values with spaces, newlines, macros, comments or quotes are refused."""
    with pytest.raises(ResourceError):
        plain_value("accounting_group", value)


def test_commands_must_be_names_and_values_plain() -> None:
    """Pass-through commands are written only with a command name and a plain value."""
    text = SubmitDescription(
        TASK / "job.sh", TASK, commands={"accounting_group": "group_physics.alice"}
    ).render()
    assert commands(text)["accounting_group"] == "group_physics.alice"
    with pytest.raises(ResourceError):
        SubmitDescription(TASK / "job.sh", TASK, commands={"a b": "x"}).render()
    with pytest.raises(ResourceError):
        SubmitDescription(TASK / "job.sh", TASK, commands={"accounting_group": "x y"}).render()


def test_array_length_must_be_positive() -> None:
    """queue 0 is refused before anything is written."""
    with pytest.raises(ResourceError):
        SubmitDescription(TASK / "job.sh", TASK, count=0).render()


@given(st.text().map(lambda text: "".join(c for c in text if c.isprintable() and c != "$")))
def test_classad_strings_round_trip(value: str) -> None:
    """Quoted ClassAd strings escape backslashes and quotes and unescape to the value."""
    quoted = classad_string("name", value)
    assert quoted[0] == quoted[-1] == '"'
    assert re.sub(r"\\(.)", r"\1", quoted[1:-1]) == value


@pytest.mark.parametrize("value", ["a\nb", "x$(Cluster)", "\x00"])
def test_classad_strings_refuse_control_characters_and_macros(value: str) -> None:
    """Newlines, NULs and $ cannot be written into a ClassAd string of a description."""
    with pytest.raises(ResourceError):
        classad_string("name", value)
