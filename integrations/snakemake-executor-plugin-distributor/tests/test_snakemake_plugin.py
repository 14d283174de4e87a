"""Snakemake finds the plugin and builds its command line (the pitfalls seen when prototyping:
string annotations in the settings module, an editable install Snakemake does not see)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry
from snakemake_interface_executor_plugins.registry.plugin import Plugin

import snakemake_executor_plugin_distributor
from snakemake_executor_plugin_distributor import Executor, ExecutorSettings


def test_snakemake_registry_finds_the_plugin() -> None:
    """Snakemake's registry loads ``distributor`` from this package (its module-name discovery
    sees the installed package), with its executor and settings."""
    plugin = ExecutorPluginRegistry().get_plugin("distributor")
    assert isinstance(plugin, Plugin)
    assert plugin.executor is Executor
    assert plugin.settings_cls is ExecutorSettings
    assert plugin.common_settings is snakemake_executor_plugin_distributor.common_settings
    assert plugin.common_settings.non_local_exec


def test_settings_types_are_real_types() -> None:
    """Every setting's type is an object, not a string: Snakemake reads them at run time, and
    ``from __future__ import annotations`` in the settings module would break every command."""
    for field in dataclasses.fields(ExecutorSettings):
        assert not isinstance(field.type, str), field.name
        assert field.metadata["help"], field.name
        assert isinstance(field.metadata["type"], type), field.name


def test_snakemake_help_lists_the_options() -> None:
    """``snakemake --help`` shows the plugin's options."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "--help"], capture_output=True,
                            text=True, check=True, timeout=120)  # fmt: skip
    options = ["--distributor-cluster NAME", "--distributor-memory-overhead-mib MIB",
               "--distributor-lost-grace SECONDS", "--distributor-max-array-size N"]  # fmt: skip
    for option in options:
        assert option in result.stdout, result.stdout
