"""Every option of the command explains itself."""

from __future__ import annotations

from distributor.cli import _parser


def test_every_option_has_help() -> None:
    """Every option and argument of every command explains itself in --help."""
    parser = _parser()
    commands = [parser]
    for action in parser._actions:
        if isinstance(action.choices, dict):
            commands.extend(action.choices.values())
    missing = [
        f"{sub.prog} {action.option_strings or action.dest}"
        for sub in commands
        for action in sub._actions
        if not action.help and action.dest not in ("help", "cmd")
    ]
    assert not missing
