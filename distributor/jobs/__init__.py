"""basf2 CAF's job model on top of the service: jobs that split themselves into subjobs.

A `Job` says what to run, on which input files, with which sandbox and outputs; a splitter
(`MaxFilesSplitter`, `MaxSubjobsSplitter`, `ArgumentsSplitter`) turns it into subjobs; a
`JobRunner` runs them through `distributor.service.Service` on any plugin — subjobs asking for
the same resources as one array — prepares each one's working directory (the sandbox and the
list of its input files, read with `get_input_data`), collects its outputs after it succeeded,
and survives a controller crash like any service run. See ``docs/jobs.md``.

Names load on first use (PEP 562): a subjob that calls ``get_input_data`` imports neither the
service nor the model.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from distributor.jobs.arguments import (
        ArgumentsGenerator,
        ArgumentsGeneratorFunction,
        range_arguments,
    )
    from distributor.jobs.errors import JobError, JobFileError, SplitterError
    from distributor.jobs.input_data import INPUT_DATA_FILE, get_input_data
    from distributor.jobs.model import (
        EXIT_STATUSES,
        Job,
        JobStatus,
        SubJob,
        lowest_status,
    )
    from distributor.jobs.runner import JobRunner
    from distributor.jobs.splitters import (
        ArgumentsSplitter,
        MaxFilesSplitter,
        MaxSubjobsSplitter,
        SubjobSplitter,
    )
    from distributor.jobs.validation import Argument
del TYPE_CHECKING

from distributor._lazy import attach as _attach  # noqa: E402  (after the type-only imports)

_WHERE = {
    "Argument": "distributor.jobs.validation",
    "ArgumentsGenerator": "distributor.jobs.arguments",
    "ArgumentsGeneratorFunction": "distributor.jobs.arguments",
    "ArgumentsSplitter": "distributor.jobs.splitters",
    "EXIT_STATUSES": "distributor.jobs.model",
    "INPUT_DATA_FILE": "distributor.jobs.input_data",
    "Job": "distributor.jobs.model",
    "JobError": "distributor.jobs.errors",
    "JobFileError": "distributor.jobs.errors",
    "JobRunner": "distributor.jobs.runner",
    "JobStatus": "distributor.jobs.model",
    "MaxFilesSplitter": "distributor.jobs.splitters",
    "MaxSubjobsSplitter": "distributor.jobs.splitters",
    "SplitterError": "distributor.jobs.errors",
    "SubJob": "distributor.jobs.model",
    "SubjobSplitter": "distributor.jobs.splitters",
    "get_input_data": "distributor.jobs.input_data",
    "lowest_status": "distributor.jobs.model",
    "range_arguments": "distributor.jobs.arguments",
}


__all__ = [
    "Argument",
    "ArgumentsGenerator",
    "ArgumentsGeneratorFunction",
    "ArgumentsSplitter",
    "EXIT_STATUSES",
    "INPUT_DATA_FILE",
    "Job",
    "JobError",
    "JobFileError",
    "JobRunner",
    "JobStatus",
    "MaxFilesSplitter",
    "MaxSubjobsSplitter",
    "SplitterError",
    "SubJob",
    "SubjobSplitter",
    "get_input_data",
    "lowest_status",
    "range_arguments",
]

__getattr__, __dir__ = _attach(__name__, _WHERE, globals(), __all__)
