"""Test helpers: Snakemake's own executor-plugin harness pointed at a distributor cluster, and
the ``snakemake`` command run against one. Needs ``snakemake`` and ``pytest`` (the ``test``
extra); nothing else imports this module.

A cluster is described by a ``distributor.toml`` text (`cluster_config`); the tests point
``DISTRIBUTOR_CONFIG`` at it, so they exercise the configured-cluster path users take.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
import snakemake.common.tests
from snakemake_interface_executor_plugins.settings import ExecutorSettingsBase

from snakemake_executor_plugin_distributor.settings import ExecutorSettings

__all__ = ["DistributorWorkflows", "cluster_config", "run_snakemake", "snakemake_argv"]

CLUSTER = "snake"
"""The name tests configure their cluster under."""


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def cluster_config(
    plugin: str,
    options: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    name: str = CLUSTER,
) -> str:
    """A ``distributor.toml`` text defining cluster `name` (tables for dict options)."""
    lines = [f"[clusters.{name}]", f"plugin = {_toml_value(plugin)}"]
    tables = []
    for key, value in (options or {}).items():
        if isinstance(value, Mapping):
            tables.append(f"[clusters.{name}.{key}]")
            tables.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    if defaults:
        tables.append(f"[clusters.{name}.defaults]")
        tables.extend(f'"{k}" = {_toml_value(v)}' for k, v in defaults.items())
    return "\n".join([*lines, *tables]) + "\n"


class DistributorWorkflows(snakemake.common.tests.TestWorkflowsLocalStorageBase):  # type: ignore[misc]  # snakemake ships no type information
    """Snakemake's harness (its ``simple`` and ``groups`` workflows) on a configured cluster.

    Subclasses set `plugin` and return the cluster's options from `cluster_options`; the
    harness then runs each workflow with ``--executor distributor``.
    """

    __test__ = False
    plugin: ClassVar[str] = "local"
    defaults: ClassVar[Mapping[str, Any]] = {}

    def cluster_options(self, tmp_path: Path) -> dict[str, Any]:
        """Options of the cluster's distributor (submit root, scheduler configuration)."""
        return {}

    @pytest.fixture(autouse=True)
    def _configured_cluster(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        config = tmp_path / "distributor.toml"
        text = cluster_config(self.plugin, self.cluster_options(tmp_path), self.defaults)
        config.write_text(text, encoding="utf-8")
        monkeypatch.setenv("DISTRIBUTOR_CONFIG", str(config))
        monkeypatch.setenv("DISTRIBUTOR_LOCAL_STATE_DIR", str(tmp_path / "local-state"))

    def get_executor(self) -> str:
        return "distributor"

    def get_executor_settings(self) -> ExecutorSettingsBase:
        return ExecutorSettings(cluster=CLUSTER)


def snakemake_argv(*args: str) -> list[str]:
    """``python -m snakemake --executor distributor --distributor-cluster snake ARGS``, with
    this interpreter (the one the plugin is installed in)."""
    return [sys.executable, "-m", "snakemake", "--executor", "distributor",
            "--distributor-cluster", CLUSTER, "--jobs", "4", *args]  # fmt: skip


def run_snakemake(
    workdir: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """Run `snakemake_argv` in `workdir` and return the finished process (output captured)."""
    return subprocess.run(
        snakemake_argv(*args),
        cwd=workdir,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
