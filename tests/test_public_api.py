"""The public API: a sorted __all__ whose every name exists."""

from __future__ import annotations

import distributor


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and every name in it is importable from the package."""
    assert list(distributor.__all__) == sorted(distributor.__all__)
    for name in distributor.__all__:
        assert hasattr(distributor, name), name


def test_version_comes_from_metadata() -> None:
    """__version__ is the installed distribution's version."""
    from importlib.metadata import version

    assert distributor.__version__ == version("distributor")
