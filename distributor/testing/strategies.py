"""Hypothesis strategies shared by the core's and the plugins' tests (needs ``hypothesis``)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["memory_values", "resource_requests", "runtime_values"]


def memory_values() -> st.SearchStrategy[Any]:
    """Memory quantities in every accepted spelling, from 1 MiB to 4 TiB."""
    mib = st.integers(min_value=1, max_value=4 * 1024 * 1024)
    return st.one_of(
        mib.map(lambda n: f"{n}M"),
        mib.map(lambda n: f"{n}MiB"),
        st.integers(min_value=1, max_value=4096).map(lambda n: f"{n}G"),
        st.integers(min_value=1, max_value=4096).map(lambda n: f"{n}GB"),
        st.integers(min_value=1, max_value=4096),
        st.floats(min_value=0.001, max_value=4096, allow_nan=False).map(lambda x: round(x, 3)),
    )


def runtime_values() -> st.SearchStrategy[Any]:
    """Durations in every accepted spelling, from 1 s to 30 days."""
    seconds = st.integers(min_value=1, max_value=30 * 86400)
    return st.one_of(
        seconds,
        seconds.map(lambda s: f"{s}s"),
        st.integers(min_value=1, max_value=30 * 1440).map(lambda m: f"{m}m"),
        st.integers(min_value=1, max_value=720).map(lambda h: f"{h}h"),
        seconds.map(lambda s: f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"),
        seconds.map(
            lambda s: f"{s // 86400}-{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
        ),
    )


def resource_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Requests of the core keys (no queue, no pass-through), any subset of them present."""
    return st.fixed_dictionaries(
        {},
        optional={
            "memory": memory_values(),
            "runtime": runtime_values(),
            "cores": st.integers(min_value=1, max_value=512),
        },
    )
