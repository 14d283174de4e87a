"""Plugin discovery: listing without importing, loading one, isolating failures."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import (
    PluginConflictError,
    PluginContractError,
    PluginLoadError,
    PluginNotFoundError,
    available_plugins,
    inspect_plugins,
    load_plugin,
)

FIXTURES = Path(__file__).parent / "fixtures" / "plugins"


def install_fake(
    root: Path, dist: str, version: str, module: str, source: str, entry: str | None = None
) -> None:
    """Lay out an installed distribution (dist-info + module) under `root`, as pip would."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    name = entry or module.removeprefix("plug_")
    (info / "entry_points.txt").write_text(f"[distributor.plugins]\n{name} = {module}:plugin\n")


GOOD = """
from distributor import Plugin
from distributor.testing import MemoryDistributor, MemoryQueue, MemoryWorkerNode
plugin = Plugin("{name}", MemoryQueue, MemoryDistributor, MemoryWorkerNode, "a good one")
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh directory on sys.path standing in for site-packages."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("DISTRIBUTOR_DISABLED_PLUGINS", raising=False)
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("plug_")]:
        del sys.modules[module]


def test_listing_does_not_import_plugin_code(site: Path) -> None:
    """available_plugins reads metadata only; load_plugin then imports the one plugin."""
    install_fake(site, "dist-alpha", "1.0", "plug_alpha", GOOD.format(name="alpha"))
    infos = available_plugins()
    assert infos["alpha"].distribution == "dist-alpha"
    assert infos["alpha"].version == "1.0"
    assert "plug_alpha" not in sys.modules
    plugin = load_plugin("alpha")
    assert plugin.name == "alpha"
    assert "plug_alpha" in sys.modules


def test_broken_plugin_is_reported_not_fatal(site: Path) -> None:
    """A plugin whose import raises is listed as broken; loading it raises PluginLoadError."""
    install_fake(site, "dist-alpha", "1.0", "plug_alpha", GOOD.format(name="alpha"))
    install_fake(site, "dist-bad", "0.3", "plug_bad", "raise RuntimeError('no libfoo')\n")
    states = {s.name: s for s in inspect_plugins()}
    assert states["alpha"].state == "ok"
    assert states["bad"].state == "broken"
    assert "no libfoo" in states["bad"].reason
    with pytest.raises(PluginLoadError) as caught:
        load_plugin("bad")
    err = caught.value
    assert (err.entry_point, err.distribution, err.version) == (
        "plug_bad:plugin",
        "dist-bad",
        "0.3",
    )
    assert "plug_bad:plugin" in str(err)
    assert "dist-bad 0.3" in str(err)
    assert isinstance(err.__cause__, RuntimeError)


def test_not_found_lists_installed(site: Path) -> None:
    """An unknown name raises PluginNotFoundError listing what is installed."""
    install_fake(site, "dist-alpha", "1.0", "plug_alpha", GOOD.format(name="alpha"))
    with pytest.raises(PluginNotFoundError) as caught:
        load_plugin("alpah")
    assert "'alpah'" in str(caught.value)
    assert "alpha" in caught.value.installed


def test_wrong_shape_lists_missing_members(site: Path) -> None:
    """An entry point naming the wrong object, or incomplete classes, is a contract error."""
    install_fake(site, "dist-odd", "1.0", "plug_odd", "plugin = object()\n")
    install_fake(
        site,
        "dist-half",
        "1.0",
        "plug_half",
        """
        from distributor import Plugin
        from distributor.testing import MemoryQueue, MemoryWorkerNode
        class Half:
            def __init__(self, cluster_name: str) -> None: ...
            def start(self) -> None: ...
        plugin = Plugin("half", MemoryQueue, Half, MemoryWorkerNode)  # type: ignore
    """,
    )
    with pytest.raises(PluginContractError, match=r"distributor.Plugin"):
        load_plugin("odd")
    with pytest.raises(PluginContractError) as caught:
        load_plugin("half")
    assert "distributor.get_remote_exit_info" in caught.value.missing
    assert "distributor.start" not in caught.value.missing


def test_name_must_match_entry_point(site: Path) -> None:
    """A Plugin whose name differs from its entry point is a contract error naming both."""
    install_fake(site, "dist-alpha", "1.0", "plug_alpha", GOOD.format(name="beta"))
    with pytest.raises(PluginContractError, match=r"'beta'.*'alpha'"):
        load_plugin("alpha")


def test_two_distributions_one_name_conflict(site: Path) -> None:
    """Two distributions claiming a name: listing leaves it out, loading names both."""
    install_fake(site, "dist-one", "1.0", "plug_one", GOOD.format(name="same"), entry="same")
    install_fake(site, "dist-two", "2.0", "plug_two", GOOD.format(name="same"), entry="same")
    assert "same" not in available_plugins()
    with pytest.raises(PluginConflictError) as caught:
        load_plugin("same")
    assert "dist-one 1.0" in str(caught.value)
    assert "dist-two 2.0" in str(caught.value)
    assert {s.name: s.state for s in inspect_plugins()}["same"] == "conflict"


def test_disabled_plugins_are_hidden(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DISTRIBUTOR_DISABLED_PLUGINS hides plugins from listing and loading."""
    install_fake(site, "dist-alpha", "1.0", "plug_alpha", GOOD.format(name="alpha"))
    monkeypatch.setenv("DISTRIBUTOR_DISABLED_PLUGINS", "zzz, alpha")
    assert "alpha" not in available_plugins()
    with pytest.raises(PluginNotFoundError):
        load_plugin("alpha")


@pytest.mark.slow
def test_pip_installed_third_party_plugins(tmp_path: Path) -> None:
    """Plugins pip-installed from outside the repo are discovered; a broken one is reported."""
    target = tmp_path / "site"
    for name in ("good", "broken"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--target",
                str(target),
                str(FIXTURES / name),
            ],
            check=True,
            capture_output=True,
        )
    probe = textwrap.dedent("""
        import json
        from distributor import PluginLoadError, available_plugins, inspect_plugins, load_plugin
        out = {"listed": sorted(available_plugins())}
        out["states"] = {s.name: s.state for s in inspect_plugins()}
        out["good"] = load_plugin("good").distributor.__name__
        try:
            load_plugin("broken")
        except PluginLoadError as exc:
            out["broken"] = [exc.distribution, exc.version, exc.entry_point]
        print(json.dumps(out))
    """)
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    out = json.loads(result.stdout.splitlines()[-1])  # structlog's default sink is stdout
    assert {"good", "broken"} <= set(out["listed"])
    assert out["states"]["good"] == "ok"
    assert out["states"]["broken"] == "broken"
    assert out["good"] == "GoodDistributor"
    assert out["broken"] == ["distributor-broken", "0.0.1", "distributor_broken:plugin"]


def test_scan_is_cached_until_something_is_installed(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing and loading read entry points once; a distribution installed afterwards (its
    directory changes) or a change of DISTRIBUTOR_DISABLED_PLUGINS is seen at the next call."""
    from importlib import metadata

    calls: list[str] = []
    real = metadata.entry_points

    def counting(**params: str) -> object:
        calls.append(params.get("group", ""))
        return real(**params)

    monkeypatch.setattr(metadata, "entry_points", counting)
    install_fake(site, "dist-alpha", "1.0", "plug_alpha", GOOD.format(name="alpha"))
    assert "alpha" in available_plugins()
    load_plugin("alpha")
    states = {s.name: s.state for s in inspect_plugins()}
    assert states["alpha"] == "ok"
    assert len(calls) == 1, "one scan for listing, loading and inspecting every plugin"
    install_fake(site, "dist-beta", "2.0", "plug_beta", GOOD.format(name="beta"))
    assert {"alpha", "beta"} <= set(available_plugins())
    assert len(calls) == 2
    monkeypatch.setenv("DISTRIBUTOR_DISABLED_PLUGINS", "beta")
    assert "beta" not in available_plugins()
    assert len(calls) == 3


def test_contract_members_come_from_the_protocols(site: Path) -> None:
    """A plugin whose distributor class has none of the protocol's members is refused,
    naming every member of `ClusterDistributor` and nothing of the complete parts."""
    from typing_extensions import get_protocol_members

    from distributor import ClusterDistributor

    source = """
    from distributor import Plugin
    from distributor.testing import MemoryQueue, MemoryWorkerNode
    plugin = Plugin("lacking", MemoryQueue, type("Empty", (), {}), MemoryWorkerNode, "x")
    """
    install_fake(site, "dist-lacking", "1.0", "plug_lacking", source, entry="lacking")
    with pytest.raises(PluginContractError) as caught:
        load_plugin("lacking")
    message = str(caught.value)
    members = get_protocol_members(ClusterDistributor)
    assert len(members) == 11
    for member in members:
        assert f"distributor.{member}" in message
    assert "queue." not in message
    assert "worker_node." not in message
