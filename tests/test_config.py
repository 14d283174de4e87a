"""Named clusters from configuration files (`distributor.config`): where they are read from,
which wins, and a precise error — file and line — for every mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor.batch import PollPolicy
from distributor.config import ClusterConfig, _key_lines, config_files, load_config
from distributor.exceptions import ConfigFileError, UnknownClusterError
from distributor.local import LocalDistributor


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def homes(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose user configuration lives in tmp, and a project directory."""
    project = tmp_path / "project" / "sub"
    project.mkdir(parents=True)
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}, project


def test_the_nearer_file_wins_cluster_by_cluster(homes: tuple[dict[str, str], Path]) -> None:
    """The project's file (found in a parent directory) replaces the user's definition of a
    cluster, whole; the user's other clusters stay; each says where it was defined."""
    env, project = homes
    user = write(
        Path(env["XDG_CONFIG_HOME"], "distributor", "config.toml"),
        """
        [clusters.hpc]
        plugin = "slurm"
        slurm_conf = "/etc/slurm/slurm.conf"

        [clusters.laptop]
        plugin = "local"
        parallelism = 2
        """,
    )
    nearer = write(
        project.parent / "distributor.toml",
        """
        # the project's own partition
        [clusters.hpc]
        plugin = "slurm"
        [clusters.hpc.defaults]
        queue = "gpu"
        """,
    )
    config = load_config(cwd=project, environ=env)
    assert config.files == (user, nearer)
    hpc = config.clusters["hpc"]
    assert (hpc.plugin, dict(hpc.options), dict(hpc.defaults)) == ("slurm", {}, {"queue": "gpu"})
    assert hpc.where == f"{nearer}:2"
    assert config.clusters["laptop"].options == {"parallelism": 2}
    assert config.clusters["laptop"].where == f"{user}:5"


def test_distributor_config_names_one_file_or_none(
    homes: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    """DISTRIBUTOR_CONFIG=FILE reads only that file; an empty value reads none."""
    env, project = homes
    write(
        Path(env["XDG_CONFIG_HOME"], "distributor", "config.toml"), "[clusters.a]\nplugin='local'\n"
    )
    only = write(tmp_path / "only.toml", "[clusters.b]\nplugin = 'local'\n")
    assert config_files(project, {**env, "DISTRIBUTOR_CONFIG": str(only)}) == (only,)
    assert set(load_config(project, {**env, "DISTRIBUTOR_CONFIG": str(only)}).clusters) == {"b"}
    assert config_files(project, {**env, "DISTRIBUTOR_CONFIG": ""}) == ()


@pytest.mark.parametrize(
    ("text", "line", "key", "reason"),
    [
        ("[cluster.x]\nplugin = 'local'\n", 1, "cluster", "unknown key"),
        ("[clusters.x]\nparallelism = 2\n", 1, "clusters.x.plugin", "needs plugin"),
        ("[clusters.x]\nplugin = 'local'\n\n[clusters.x.defaults]\nmemroy = '2G'\n", 5,
         "clusters.x.defaults.memroy", "not a resource"),
        ("[clusters.x]\nplugin = 'local'\ndefaults.memory = '-5G'\n", 3,
         "clusters.x.defaults.memory", "not a memory quantity"),
        ("[clusters.x]\nplugin = 'sge'\n[clusters.x.defaults]\n'slurm.account' = 'p'\n", 4,
         "clusters.x.defaults.slurm.account", "belongs to plugin 'slurm'"),
        ("[clusters.x]\nplugin = 'local'\ndefaults = 3\n", 3, "clusters.x.defaults", "a table"),
        ("[clusters]\nx = 'local'\n", 2, "clusters.x", "must be a table"),
    ],
)  # fmt: skip
def test_mistakes_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, reason: str
) -> None:
    """Each mistake is a ConfigFileError carrying the file, the line and the dotted key."""
    path = write(tmp_path / "distributor.toml", text)
    with pytest.raises(ConfigFileError) as caught:
        load_config(tmp_path, {"DISTRIBUTOR_CONFIG": str(path)})
    error = caught.value
    assert (error.path, error.line, error.key) == (path, line, key)
    assert reason in error.reason
    assert str(error).startswith(f"{path}:{line}: {key}: ")


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    """A file that is not TOML: the parser's message with the file and its line."""
    path = write(tmp_path / "distributor.toml", "[clusters.x]\nplugin = local\n")
    with pytest.raises(ConfigFileError) as caught:
        load_config(tmp_path, {"DISTRIBUTOR_CONFIG": str(path)})
    assert (caught.value.path, caught.value.line) == (path, 2)


def test_options_are_checked_against_the_plugin_when_used(tmp_path: Path) -> None:
    """An option the plugin's distributor does not take is an error at its line once the
    cluster is used (listing the options it does take); a table builds the option's dataclass
    (an unknown field is named with its line)."""
    path = write(
        tmp_path / "distributor.toml",
        """
        [clusters.typo]
        plugin = "local"
        paralelism = 2

        [clusters.hpc]
        plugin = "slurm"
        submit_root = "/shared/me"

        [clusters.hpc.poll_policy]
        min_interval = 7.5

        [clusters.bad]
        plugin = "slurm"
        poll_policy = { min_intervl = 1 }
        """,
    )
    config = load_config(tmp_path, {"DISTRIBUTOR_CONFIG": str(path)})
    with pytest.raises(ConfigFileError) as caught:
        config.resolve("typo").load()
    assert (caught.value.line, caught.value.key) == (3, "clusters.typo.paralelism")
    assert "parallelism" in caught.value.reason
    _, options = config.resolve("hpc").load()
    assert options["poll_policy"] == PollPolicy(min_interval=7.5)
    assert options["submit_root"] == "/shared/me"
    with pytest.raises(ConfigFileError) as bad:
        config.resolve("bad").load()
    assert (bad.value.line, bad.value.key) == (14, "clusters.bad.poll_policy.min_intervl")


def test_resolution_configured_first_then_plugins(tmp_path: Path) -> None:
    """A configured name wins over a plugin of the same name; an installed plugin is usable by
    its name; anything else is an error listing both kinds."""
    state = tmp_path / "mine"
    path = write(
        tmp_path / "distributor.toml",
        f"""
        [clusters.local]
        plugin = "local"
        state_dir = "{state}"
        parallelism = 3
        [clusters.local.defaults]
        memory = "1G"
        """,
    )
    config = load_config(tmp_path, {"DISTRIBUTOR_CONFIG": str(path)})
    local = config.resolve("local")
    distributor = local.distributor()
    assert isinstance(distributor, LocalDistributor)
    assert distributor.cluster_name == "local"
    assert local.resources({"memory": None, "cores": 2}) == {"memory": "1G", "cores": 2}
    assert local.resources({"memory": "3G"}) == {"memory": "3G"}
    assert config.resolve("slurm") == ClusterConfig("slurm", "slurm")
    with pytest.raises(UnknownClusterError) as caught:
        config.resolve("nosuch")
    message = str(caught.value)
    assert "'nosuch'" in message
    assert "configured clusters: local" in message
    assert "slurm" in message
    assert str(path) in message


def test_the_service_gets_the_same_cluster(tmp_path: Path) -> None:
    """`ClusterConfig.service_cluster` is the service's Cluster with the configured options
    and the default queue."""
    path = write(
        tmp_path / "distributor.toml",
        f"""
        [clusters.box]
        plugin = "local"
        state_dir = "{tmp_path / "box"}"
        """,
    )
    cluster = load_config(tmp_path, {"DISTRIBUTOR_CONFIG": str(path)}).resolve("box")
    service_cluster = cluster.service_cluster()
    assert service_cluster.name == "box"
    assert service_cluster.default_queue == "local"
    assert isinstance(service_cluster.distributor, LocalDistributor)


_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)


@given(
    clusters=st.dictionaries(
        _NAMES, st.lists(_NAMES, min_size=0, max_size=4, unique=True), min_size=1, max_size=5
    ),
    quoted=st.booleans(),
    blank=st.integers(0, 2),
)
def test_key_lines_find_every_table_and_key(
    clusters: dict[str, list[str]], quoted: bool, blank: int
) -> None:
    """The line of every table header and key, whatever the names and the spacing."""
    lines: list[str] = []
    expected: dict[tuple[str, ...], int] = {}
    for name, keys in clusters.items():
        header = f'[clusters."{name}"]' if quoted else f"[ clusters.{name} ]"
        lines.append(header)
        expected[("clusters", name)] = len(lines)
        for key in keys:
            lines.extend([""] * blank)
            lines.append(f"{key} = 1  # a comment")
            expected[("clusters", name, key)] = len(lines)
    found = _key_lines("\n".join(lines) + "\n")
    for path, line in expected.items():
        assert found[path] == line
