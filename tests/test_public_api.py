"""The public API: a sorted __all__ that names exactly the package's public objects."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import distributor


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and every name in it is importable from the package."""
    assert list(distributor.__all__) == sorted(distributor.__all__)
    for name in distributor.__all__:
        assert hasattr(distributor, name), name


def test_every_public_object_is_in_all() -> None:
    """The other direction: no public name of the package escapes __all__ (submodules are
    reached by their own path, not re-exported), once every lazy name has been touched."""
    for name in distributor.__all__:
        getattr(distributor, name)
    public = {
        name
        for name, value in vars(distributor).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(distributor.__all__) - {"__version__"}


def test_lazy_names_are_the_objects_of_their_modules() -> None:
    """Each public name is loaded from the module the package's map names, and is that
    module's own object (what type checkers see through the TYPE_CHECKING imports)."""
    import importlib

    where: dict[str, str] = distributor._WHERE
    assert set(where) == set(distributor.__all__) - {"__version__"}
    for name, module in where.items():
        assert getattr(distributor, name) is getattr(importlib.import_module(module), name)
    assert set(dir(distributor)) >= set(distributor.__all__)


def test_version_comes_from_metadata() -> None:
    """__version__ is the installed distribution's version (distributor-core)."""
    from importlib.metadata import version

    assert distributor.__version__ == version("distributor-core")


def test_import_is_light() -> None:
    """`import distributor` imports nothing but itself (its names load on first use); the
    whole public API (but ``__version__``) imports no plugin, no testing code, none of the
    heavy subpackages, and none of rich, sqlite3, structlog, asyncio, logging or
    importlib.metadata (see benchmarks/import_time.py for what each costs)."""
    code = (
        "import sys, json; before = set(sys.modules); import distributor; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(json.loads(out.stdout)) <= {
        "distributor",
        "distributor._lazy",
        "__future__",
        "importlib",
        "warnings",
    }
    code = (
        "import sys, json, distributor\n"
        "for name in distributor._WHERE: getattr(distributor, name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "distributor.protocols" in loaded
    heavy = {"rich", "sqlite3", "structlog", "asyncio", "logging", "importlib.metadata",
             "starlette", "uvicorn"}  # fmt: skip
    assert not heavy & loaded
    assert not [
        m
        for m in loaded
        if m.startswith(("distributor_", "distributor.testing", "distributor.service"))
        or m.startswith(("distributor.batch", "distributor.local", "distributor.cli"))
        or m.startswith("distributor.dashboard")
    ]
