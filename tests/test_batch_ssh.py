"""`SSHTransport` against the real OpenSSH server of ``scripts/dev-clusters/sshd.sh``: quoting,
environment, the master connection, and each failure as one clear error."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from distributor.batch import (
    CommandRunner,
    LocalTransport,
    RetryPolicy,
    ShellFiles,
    SSHConfig,
    SSHTransport,
    open_transport,
)
from distributor.batch.ssh import parse_ssh_url
from distributor.batch.transport_option import remote_worker
from distributor.config import load_config
from distributor.exceptions import (
    AuthenticationError,
    ConfigFileError,
    ConnectionLostError,
    HostKeyError,
    RemoteDiskFullError,
    SchedulerError,
    TransportError,
)
from distributor.testing.hostile import HOSTILE_NAMES
from distributor_slurm import SlurmDistributor
from tests.ssh_login import login, unavailable_reason

PORT = 1  # sshd's port of this module (tests.ssh_login)

WHY_NOT = unavailable_reason()
live = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


# --- configuration (no server needed) ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://login.example.org", (None, "login.example.org", None)),
        ("ssh://me@hpc:2200", ("me", "hpc", 2200)),
        ("ssh://me@[::1]:22", ("me", "[::1]", 22)),
    ],
)
def test_urls_parse(url: str, expected: tuple[str | None, str, int | None]) -> None:
    """User, host and port come from ssh://[user@]host[:port]."""
    assert parse_ssh_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["ssh://-oProxyCommand=x", "ssh://-l@host", "http://host", "ssh://host/path", "ssh://h:99999",
     "ssh://a b@host", "ssh://host?x=1", "ssh://"],
)  # fmt: skip
def test_urls_that_could_be_options_are_refused(url: str) -> None:
    """A host or user that ssh could read as an option, or anything but a plain URL, is a
    ValueError naming it."""
    with pytest.raises(ValueError, match="transport"):
        SSHConfig(url)


def test_transport_option_strings() -> None:
    """'local' is the local transport, ssh:// an SSH transport, other text an error."""
    assert type(open_transport("local")).__name__ == "LocalTransport"
    assert isinstance(open_transport("ssh://me@hpc"), SSHTransport)
    with pytest.raises(ValueError, match="'ftp://x'"):
        open_transport("ftp://x")


def test_remote_line_quotes_every_value_and_sends_only_changed_variables() -> None:
    """The remote shell line is the argv quoted, with env's differences from this process."""
    transport = SSHTransport("ssh://me@hpc")
    line = transport.remote_line(["echo", "$(id)", "a b"], {"NEW_ONE": "x y"})
    assert line.endswith("'NEW_ONE=x y' echo '$(id)' 'a b'")
    assert line.startswith("env ")


def test_cluster_configuration_builds_the_transport(tmp_path: Path) -> None:
    """``transport`` in a cluster's configuration is a URL or a table of `SSHConfig`."""
    config = tmp_path / "distributor.toml"
    config.write_text(
        "[clusters.a]\nplugin = 'slurm'\ntransport = 'ssh://me@login'\n"
        "[clusters.b]\nplugin = 'sge'\n[clusters.b.transport]\nurl = 'ssh://me@login:2200'\n"
        "keyfile = '~/.ssh/id_hpc'\noptions = ['ProxyJump=gw']\n"
        "[clusters.c]\nplugin = 'slurm'\n[clusters.c.transport]\nurl = 'ssh://-x'\n"
    )
    clusters = load_config(environ={"DISTRIBUTOR_CONFIG": str(config)})
    assert clusters.resolve("a").load()[1]["transport"] == "ssh://me@login"
    built = clusters.resolve("b").load()[1]["transport"]
    assert built == SSHConfig(
        "ssh://me@login:2200", keyfile="~/.ssh/id_hpc", options=("ProxyJump=gw",)
    )
    with pytest.raises(ConfigFileError, match=r"clusters\.c\.transport"):
        clusters.resolve("c").load()


def test_the_readme_configures_a_remote_cluster(tmp_path: Path) -> None:
    """The README's remote cluster, as written and with its transport table uncommented,
    loads into the Slurm plugin's options."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### A cluster behind SSH") :]
    start = section.index("```toml") + len("```toml")
    block = section[start : section.index("```", start)]
    config = tmp_path / "distributor.toml"
    config.write_text(block)
    options = load_config(environ={"DISTRIBUTOR_CONFIG": str(config)}).resolve("hpc").load()[1]
    assert options["transport"] == "ssh://me@login.hpc.example.org"
    table = "\n".join(
        line[2:] if line.startswith("# ") else line
        for line in block.splitlines()
        if not line.startswith("transport")
    )
    config.write_text(table)
    options = load_config(environ={"DISTRIBUTOR_CONFIG": str(config)}).resolve("hpc").load()[1]
    assert options["transport"].url == "ssh://me@login.hpc.example.org:22"
    assert options["transport"].options == ("ProxyJump=gateway.example.org",)


def test_a_login_node_without_the_worker_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where ``distributor-worker`` is not on the remote PATH, the error says so and how to
    fix it, in one line (here the "remote" side is this machine with an empty PATH dir)."""
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(TransportError) as caught:
        remote_worker(ShellFiles(LocalTransport()))
    message = str(caught.value)
    assert "\n" not in message and "distributor-worker: command not found" in message
    assert "worker=" in message


# --- against the real server -----------------------------------------------------------------


@live
def test_arguments_arrive_exactly() -> None:
    """Every hostile name reaches the remote program as one argument, byte for byte."""
    transport = SSHTransport(login(PORT).config())
    result = transport.run(["printf", r"%s\0", *HOSTILE_NAMES], timeout=30)
    assert result.ok, result
    assert result.stdout.split("\0")[:-1] == list(HOSTILE_NAMES)


@live
def test_environment_differences_are_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable the caller sets reaches the remote command; one it removes is unset there."""
    monkeypatch.setenv("DISTRIBUTOR_TEST_GONE", "here")
    transport = SSHTransport(login(PORT).config())
    env = {k: v for k, v in __import__("os").environ.items() if k != "DISTRIBUTOR_TEST_GONE"}
    env["DISTRIBUTOR_TEST_SET"] = "it's $set"
    script = 'printf "%s|%s" "$DISTRIBUTOR_TEST_SET" "${DISTRIBUTOR_TEST_GONE-unset}"'
    result = transport.run(["sh", "-c", script], timeout=30, env=env)
    assert result.stdout == "it's $set|unset"


@live
def test_one_master_carries_many_commands() -> None:
    """Twenty commands, four threads at once, log in once."""
    transport = SSHTransport(login(PORT).config())
    transport.close()
    outputs: list[str] = []

    def work() -> None:
        for _ in range(5):
            outputs.append(transport.run(["echo", "ok"], timeout=30).stdout)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs == ["ok\n"] * 20
    assert transport.masters_started == 1


@live
def test_unknown_host_key_is_a_clear_error(tmp_path: Path) -> None:
    """With a known-hosts file that lacks the server, the login fails with HostKeyError in
    one line naming the file and the way out; ignore_ssh_host_keys opts out."""
    empty = tmp_path / "known_hosts"
    empty.touch()
    transport = SSHTransport(login(PORT).config(known_hosts=str(empty)))
    with pytest.raises(HostKeyError) as caught:
        transport.run(["true"], timeout=30)
    message = str(caught.value)
    assert "\n" not in message and str(empty) in message and "ignore_ssh_host_keys" in message
    opted_out = SSHTransport(login(PORT).config(known_hosts=str(empty), ignore_ssh_host_keys=True))
    assert opted_out.run(["true"], timeout=30).ok


@live
def test_refused_login_is_a_clear_error(tmp_path: Path) -> None:
    """A key the server does not know gives AuthenticationError in one line."""
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    transport = SSHTransport(login(PORT).config(keyfile=str(key)))
    with pytest.raises(AuthenticationError) as caught:
        transport.run(["true"], timeout=30)
    assert "\n" not in str(caught.value) and "login refused" in str(caught.value)


@live
def test_missing_remote_command_is_one_line() -> None:
    """A scheduler command missing on the login node fails at once, in one line naming it."""
    transport = SSHTransport(login(PORT).config())
    runner = CommandRunner(transport, RetryPolicy(attempts=3))
    with pytest.raises(SchedulerError) as caught:
        runner.run(["sbatch-that-is-not-there", "--version"])
    message = str(caught.value).splitlines()[0]
    assert f"sbatch-that-is-not-there: command not found on {transport.destination}" in message
    assert runner.calls["sbatch-that-is-not-there"] == 1  # not retried


@live
def test_full_remote_disk_is_one_line() -> None:
    """Writing to a full remote filesystem raises RemoteDiskFullError naming the file."""
    node = login(PORT)
    if node.small_disk is None:
        pytest.skip("the login node has no small disk (tmpfs could not be mounted)")
    files = SSHTransport(node.config()).files
    target = node.small_disk / "big"
    try:
        with pytest.raises(RemoteDiskFullError) as caught:
            files.write_atomic(target, b"x" * 1024 * 1024)
    finally:
        files.unlink(target, missing_ok=True)
    assert str(target) in str(caught.value) and "\n" not in str(caught.value)


@live
def test_a_submission_to_a_full_remote_disk_is_one_line() -> None:
    """A submit root on a full remote disk: the submission fails with RemoteDiskFullError,
    one line naming the file, before any scheduler is asked."""
    node = login(PORT)
    if node.small_disk is None:
        pytest.skip("the login node has no small disk (tmpfs could not be mounted)")
    transport = SSHTransport(node.config())
    filler = node.small_disk / "filler"
    root = node.small_disk / "root"
    transport.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4096"], timeout=60)  # until full
    distributor = SlurmDistributor("full", submit_root=root, transport=transport)
    try:
        transport.files.mkdir(root)  # a directory takes no blocks of a full tmpfs
        with pytest.raises(RemoteDiskFullError) as caught:
            distributor.submit_to_batch_distributor("true", "full", {"memory": "100M"})
    finally:
        transport.files.unlink(filler, missing_ok=True)
        transport.files.rmtree(root)
    message = str(caught.value)
    assert "\n" not in message and "no space left" in message and str(root) in message


@live
def test_a_dropped_link_is_transient_and_the_master_comes_back() -> None:
    """While the link is cut, a command reports a lost connection (timed out, so queries are
    retried and submissions in doubt) and file operations raise ConnectionLostError; once it
    is back, the next command starts a new master and works."""
    node = login(PORT)
    transport = SSHTransport(node.config())
    assert transport.run(["true"], timeout=30).ok
    started = transport.masters_started
    with node.link_cut():
        result = transport.run(["true"], timeout=30)
        assert result.timed_out and not result.ok and "connection lost" in result.stderr
        with pytest.raises(ConnectionLostError):
            transport.files.stat(node.home)
    assert transport.run(["echo", "back"], timeout=30).stdout == "back\n"
    assert transport.masters_started > started
