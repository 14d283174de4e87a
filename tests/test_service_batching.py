"""Array submissions: each step runs its own command, hostile text stays data, groups split."""

from __future__ import annotations

import os
import re
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.service.batching import (
    chunk_groups,
    is_run_tag,
    new_run_tag,
    render_command,
    submission_name,
)

HOSTILE = [
    "it's; rm -rf /nonexistent",
    '"$HOME" `id` $(id) \\',
    "line one\nline two ;; esac",
    "*) exit 0 ;;",
    "",
]


def _run_step(command: str, step: int | None) -> str:
    env = {"PATH": os.environ["PATH"]}
    if step is not None:
        env["DISTRIBUTOR_ARRAY_STEP_ID"] = str(step)
    done = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, check=False)
    return done.stdout.decode(errors="surrogateescape")


def test_each_step_runs_its_own_command_and_environment() -> None:
    """Step i prints member i's text, with member i's variables, hostile text untouched."""
    members = [(f"printf '%s|%s' \"$GREETING\" {i}", {"GREETING": text})
               for i, text in enumerate(HOSTILE)]  # fmt: skip
    command = render_command(members)
    for step, text in enumerate(HOSTILE):
        assert _run_step(command, step) == f"{text}|{step}"


def test_a_step_without_a_member_fails_loudly() -> None:
    """An unexpected step id exits 97 with a message instead of running anything."""
    command = render_command([("echo a", {}), ("echo b", {})])
    done = subprocess.run(["/bin/sh", "-c", command], env={"DISTRIBUTOR_ARRAY_STEP_ID": "7"},
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 97
    assert "no task for array step 7" in done.stderr


def test_identical_members_need_no_dispatch() -> None:
    """An array of one command is that command (with its exports)."""
    assert render_command([("/bin/true", {})] * 3) == "/bin/true"
    assert render_command([("env", {"A": "x y"})]) == "export A='x y'; env"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
                        max_size=40), min_size=2, max_size=4))  # fmt: skip
def test_any_text_survives_the_dispatch(texts: list[str]) -> None:
    """Whatever the members' texts, each step prints exactly its own."""
    from shlex import quote

    command = render_command([(f"printf %s {quote(text)}", {}) for text in texts])
    for step, text in enumerate(texts):
        assert _run_step(command, step) == text


def test_groups_keep_order_and_respect_both_limits() -> None:
    """Compatible items share submissions of at most max_steps items and max_bytes bytes."""
    items = list(range(10))
    groups = chunk_groups(
        items,
        key=lambda i: "even" if i % 2 == 0 else "odd",
        size=lambda i: 40 if i == 7 else 10,
        max_steps=2,
        max_bytes=45,
    )
    assert groups == [[0, 2], [4, 6], [8], [1, 3], [5], [7], [9]]


@given(st.text(max_size=300), st.integers(1, 10**9))
def test_submission_names_are_safe_for_every_scheduler(task: str, batch: int) -> None:
    """Names carry the run tag and batch id and use only [A-Za-z0-9_]."""
    tag = new_run_tag()
    assert is_run_tag(tag)
    name = submission_name(tag, batch, task)
    assert re.fullmatch(r"[A-Za-z0-9_]+", name)
    assert name.startswith(f"dsv_{tag}_{batch}")
    assert len(name) <= 64
