"""The conformance suite: subclass `PluginConformance` in a plugin's tests.

Needs pytest and hypothesis.

Example::

    class TestMyPlugin(PluginConformance):
        def make_target(self, tmp_path: Path) -> ConformanceTarget:
            return ConformanceTarget(
                plugin=plugin,
                make_distributor=lambda: MyDistributor("mycluster", state_dir=tmp_path),
                make_queue=lambda: MyQueue(1, "default", {}),
            )
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from distributor.resources import parse_request
from distributor.testing import checks
from distributor.testing.checks import ConformanceTarget
from distributor.testing.strategies import resource_requests

__all__ = ["PluginConformance"]

_PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class PluginConformance:
    """Base class whose tests every plugin must pass; override `make_target`."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        """Return what the suite should exercise; `tmp_path` is fresh for each test."""
        raise NotImplementedError("subclasses of PluginConformance must override make_target")

    @pytest.fixture
    def target(self, tmp_path: Path) -> ConformanceTarget:
        """The plugin under test."""
        return self.make_target(tmp_path)

    def test_plugin_shape(self, target: ConformanceTarget) -> None:
        """The plugin and every object it builds have all contract members."""
        checks.check_plugin_shape(target)

    def test_worker_node_command(self, target: ConformanceTarget) -> None:
        """The worker-node command starts with the entry point and carries the ids."""
        checks.check_worker_node_command(target)

    def test_exit_0_is_done(self, target: ConformanceTarget) -> None:
        """A command exiting 0 is reported D."""
        checks.check_submit_done(target)

    def test_exit_3_is_error_with_code(self, target: ConformanceTarget) -> None:
        """A command exiting 3 is reported E with the code in the message."""
        checks.check_submit_exit_3(target)

    def test_array_steps(self, target: ConformanceTarget) -> None:
        """Each array step sees its own index and id and gets its own exit info."""
        checks.check_array(target)

    def test_array_longer_than_the_chunk_size(self, target: ConformanceTarget) -> None:
        """An array of twice the distributor's chunk size plus one runs every step once."""
        checks.check_array_beyond_chunk(target)

    def test_submitted_or_running(self, target: ConformanceTarget) -> None:
        """A task is reported while it runs and not after."""
        checks.check_submitted_or_running(target)

    def test_running_query(self, target: ConformanceTarget) -> None:
        """get_running, where claimed, reports a running task and not an ended one."""
        checks.check_running(target)

    def test_terminate_is_killed(self, target: ConformanceTarget) -> None:
        """A terminated task leaves the queue and is reported K."""
        checks.check_terminate(target)

    def test_unknown_id(self, target: ConformanceTarget) -> None:
        """An unknown id is not running and has no exit info."""
        checks.check_unknown_id(target)

    def test_adoption(self, target: ConformanceTarget) -> None:
        """A new distributor on the same state answers for the ids of an earlier one."""
        checks.check_adoption(target)

    def test_find_by_name(self, target: ConformanceTarget) -> None:
        """find_by_name, where claimed, finds every submission under its name."""
        checks.check_find_by_name(target)

    def test_hostile_name_and_command(self, target: ConformanceTarget) -> None:
        """Shell syntax in a name is only a label; a command runs exactly as written."""
        checks.check_hostile_input(target)

    def test_task_outcome(self, target: ConformanceTarget) -> None:
        """Where claimed, a task's log holds its output and its usage its exit code and times."""
        checks.check_task_outcome(target)

    def test_memory_limit(self, target: ConformanceTarget) -> None:
        """A memory request the queue accepts is enforced (Z), never ignored."""
        checks.check_memory_limit(target)

    def test_runtime_limit(self, target: ConformanceTarget) -> None:
        """A runtime request the queue accepts is enforced (Z), never ignored."""
        checks.check_runtime_limit(target)

    def test_coerced_request_validates_strictly(self, target: ConformanceTarget) -> None:
        """Whatever is asked, the coerced request passes strict validation."""
        queue = target.make_queue()

        @_PROPERTY_SETTINGS
        @given(request=resource_requests())
        def coerced_is_valid(request: dict[str, Any]) -> None:
            coerced = queue.coerce_resources(**{**target.resources, **request})
            valid, message = queue.validate_resources(strict=True, **coerced)
            assert valid, f"coerced {coerced} fails strict validation: {message}"

        coerced_is_valid()

    def test_coercion_is_idempotent(self, target: ConformanceTarget) -> None:
        """Coercing a coerced request changes nothing."""
        queue = target.make_queue()

        @_PROPERTY_SETTINGS
        @given(request=resource_requests())
        def idempotent(request: dict[str, Any]) -> None:
            once = queue.coerce_resources(**{**target.resources, **request})
            assert queue.coerce_resources(**once) == once

        idempotent()

    def test_valid_request_is_unchanged(self, target: ConformanceTarget) -> None:
        """A request that validates strictly keeps every value it states when coerced."""
        queue = target.make_queue()

        @_PROPERTY_SETTINGS
        @given(request=resource_requests())
        def unchanged(request: dict[str, Any]) -> None:
            full = {**target.resources, **request}
            valid, _ = queue.validate_resources(strict=True, **full)
            if not valid:
                return
            before = parse_request({k: v for k, v in full.items() if k in request})
            after = parse_request(
                {k: v for k, v in queue.coerce_resources(**full).items() if k in request}
            )
            assert after == before, f"valid request {full} changed to {after}"

        unchanged()
