"""A task's staging through the service: files uploaded before it runs, results fetched after.

A `TaskSpec` may name:

* ``inputs``: absolute local paths (files or directories), uploaded into the task's directory
  on the cluster's submit root before the submission; the task then runs in that directory.
* ``outputs``: glob patterns relative to the task's directory: the files fetched back.
* ``output_dir``: an absolute local directory where, once an attempt ended ``D``, its outputs
  and logs are fetched (created if need be; files that changed are replaced).

``inputs`` and ``outputs`` go to the distributor among the requested resources (as
`distributor.batch` expects them); ``output_dir`` stays with the service, which fetches the
results itself through `distributor.protocols.SupportsResults` when it records the ``D`` — so
a restarted controller fetches them too. Only clusters whose distributor has
`SupportsResults` (the batch plugins) stage; a task with staging is refused at ``add`` on any
other. A task with staging is always submitted alone, never as a step of an array: the steps
of an array share one task directory and one staging.

Every value is data: paths are passed as argv elements or quoted by the batch layer, never
interpreted by a shell.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from distributor.exceptions import DistributorError
from distributor.logs import Logger
from distributor.protocols import SupportsResults
from distributor.service.errors import TaskSpecError

__all__ = [
    "STAGING_FIELDS",
    "check_staging",
    "fetch_outputs",
    "staged_request",
    "wants_staging",
]

STAGING_FIELDS = ("inputs", "outputs", "output_dir")
"""The `TaskSpec` fields (and tasks-file keys) that describe staging."""


def _paths(task: str, key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TaskSpecError(task, key, value, "must be a list of strings")
    for item in value:
        if not isinstance(item, str) or not item:
            raise TaskSpecError(task, key, item, "must be a non-empty string")
        if "\0" in item:
            raise TaskSpecError(task, key, item, "must not contain a NUL byte")
    return tuple(value)


def check_staging(
    task: str, inputs: object, outputs: object, output_dir: object, cwd: str | None
) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """Validate a task's staging fields; return them normalised (tuples, paths unchanged).

    Raises:
        TaskSpecError: an input that is not absolute, names no file (``/``, ending in ``..``)
            or has the same name as another input (both would land on one path of the task
            directory); a pattern that is absolute or climbs out with ``..``; an
            ``output_dir`` that is not an absolute path; ``cwd`` together with inputs or
            outputs (a staged task runs in its task directory). Each names the value.
    """
    staged_in = _paths(task, "inputs", inputs)
    names: dict[str, str] = {}
    for path in staged_in:
        if not path.startswith("/"):
            raise TaskSpecError(task, "inputs", path, "must be an absolute path")
        name = PurePosixPath(path).name
        if not name or name == "..":
            raise TaskSpecError(task, "inputs", path, "must name a file or a directory")
        if name in names:
            raise TaskSpecError(
                task, "inputs", path, f"has the same name as {names[name]!r} in the task directory"
            )
        names[name] = path
    patterns = _paths(task, "outputs", outputs)
    for pattern in patterns:
        pure = PurePosixPath(pattern)
        if pure.is_absolute() or ".." in pure.parts:
            raise TaskSpecError(
                task, "outputs", pattern, "must be a pattern relative to the task directory"
            )
    if output_dir is not None:
        if not isinstance(output_dir, str) or not output_dir.startswith("/"):
            raise TaskSpecError(task, "output_dir", output_dir, "must be an absolute path")
        if "\0" in output_dir:
            raise TaskSpecError(task, "output_dir", output_dir, "must not contain a NUL byte")
    if cwd is not None and (staged_in or patterns):
        raise TaskSpecError(
            task, "cwd", cwd, "cannot be set with inputs or outputs (a staged task runs in "
            "its task directory on the cluster)"
        )  # fmt: skip
    return staged_in, patterns, output_dir


def wants_staging(spec: Mapping[str, Any]) -> bool:
    """Whether a definition (the spec's JSON, decoded) stages anything."""
    return any(spec.get(key) for key in STAGING_FIELDS)


def staged_request(request: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """The requested resources of a submission of `spec` (decoded JSON): `request` with its
    ``inputs`` and ``outputs`` merged in, as the batch layer reads them."""
    merged = dict(request)
    for key in ("inputs", "outputs"):
        if spec.get(key):
            merged[key] = list(spec[key])
    return merged


def fetch_outputs(
    results: SupportsResults, distributor_id: str, spec_json: str | None, log: Logger
) -> None:
    """Fetch the results of the attempt `distributor_id`, which ended ``D``, into its task's
    ``output_dir`` (created if need be), replacing the files that changed. A failure is
    logged (``outputs_not_fetched``) and costs the files only: ``distributor results ID DIR``
    can fetch them later."""
    target = json.loads(spec_json).get("output_dir") if spec_json else None
    if not target:
        return
    try:
        Path(target).mkdir(parents=True, exist_ok=True)
        copied = results.get_results(distributor_id, target, overwrite=True)
    except (OSError, DistributorError) as exc:
        log.warning("outputs_not_fetched", distributor_id=distributor_id, output_dir=target,
                    error=str(exc)[:300])  # fmt: skip
        return
    log.info("outputs_fetched", distributor_id=distributor_id, output_dir=target,
             files=len(copied))  # fmt: skip
