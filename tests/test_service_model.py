"""Task definitions: normalised on construction, refused with a precise message when wrong."""

from __future__ import annotations

from typing import Any

import pytest

from distributor.service import ConfigError, ServiceConfig, TaskSpec, TaskSpecError, Throttle


def test_an_argv_command_is_quoted_into_one_line() -> None:
    """An argv list becomes a shell line that runs exactly those arguments."""
    spec = TaskSpec(name="t", command=["echo", "a b", "$HOME", "it's"])
    assert spec.command_line == "echo 'a b' '$HOME' 'it'\"'\"'s'"


def test_definitions_round_trip_through_json() -> None:
    """to_json/from_json give back an equal definition."""
    spec = TaskSpec(name="t", command="x", tags=["b", "a"], resources={"memory": "1G"},
                    env={"A": "1"}, priority=-3, owner="me", queue="q", cluster="c")  # fmt: skip
    assert TaskSpec.from_json(spec.to_json()) == spec
    assert spec.tags == frozenset({"a", "b"})


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"name": ""}, "name", "non-empty"),
        ({"name": "a\nb"}, "name", "control characters"),
        ({"command": "  "}, "command", "must not be empty"),
        ({"command": []}, "command", "non-empty strings"),
        ({"command": ["ok", 3]}, "command", "non-empty strings"),
        ({"command": "a\0b"}, "command", "NUL"),
        ({"max_attempts": 0}, "max_attempts", "between 1 and 100"),
        ({"max_attempts": True}, "max_attempts", "whole number"),
        ({"priority": 1.5}, "priority", "whole number"),
        ({"tags": "abc"}, "tags", "collection"),
        ({"env": {"1X": "v"}}, "env", "shell identifiers"),
        ({"env": {"X": 1}}, "env['X']", "string"),
        ({"resources": {"memory": [1]}}, "resources['memory']", "string or a number"),
    ],
)
def test_bad_definitions_name_task_field_and_reason(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    """Each malformed field raises TaskSpecError naming the task, the field and what is wrong."""
    arguments: dict[str, Any] = {"name": "job", "command": "true", **changes}
    with pytest.raises(TaskSpecError, match=reason) as info:
        TaskSpec(**arguments)
    assert info.value.field == field


def test_settings_out_of_range_are_refused() -> None:
    """Zero, negative or nonsensical settings raise ConfigError naming the setting."""
    with pytest.raises(ConfigError, match="submit_chunk=0"):
        Throttle(submit_chunk=0)
    with pytest.raises(ConfigError, match="scale_factor=1"):
        ServiceConfig(scale_factor=1)
    with pytest.raises(ConfigError, match="owner_weights"):
        ServiceConfig(owner_weights={"x": -1})


def test_the_service_package_exports_a_sorted_complete_api() -> None:
    """`distributor.service.__all__` is sorted and every name in it exists."""
    import distributor.service as service

    assert list(service.__all__) == sorted(service.__all__)
    for name in service.__all__:
        assert hasattr(service, name), name
