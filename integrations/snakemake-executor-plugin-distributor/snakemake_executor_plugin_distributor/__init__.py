"""Snakemake executor plugin ``distributor``: ``snakemake --executor distributor
--distributor-cluster NAME`` runs every job through a distributor plugin — a cluster configured
in ``distributor.toml`` or an installed plugin by name (``local``, ``slurm``, ``sge``, ...).

Snakemake finds this module by its name (``snakemake_executor_plugin_<name>``) and reads the
three attributes below.
"""

from snakemake_interface_executor_plugins.settings import CommonSettings

from snakemake_executor_plugin_distributor.executor import Executor
from snakemake_executor_plugin_distributor.requests import RequestPolicy, job_request
from snakemake_executor_plugin_distributor.settings import ExecutorSettings

__all__ = ["Executor", "ExecutorSettings", "RequestPolicy", "common_settings", "job_request"]

common_settings = CommonSettings(
    non_local_exec=True,  # jobs run as cluster tasks, each a nested `python -m snakemake`
    implies_no_shared_fs=False,  # the nodes see the workflow's directory (a cluster's home)
    job_deploy_sources=False,
    pass_default_storage_provider_args=True,
    pass_default_resources_args=True,
    pass_envvar_declarations_to_cmd=True,  # --envvars are exported in each job's command
    auto_deploy_default_storage_provider=False,
    init_seconds_before_status_checks=0,
)
"""What Snakemake needs to know about this executor."""
