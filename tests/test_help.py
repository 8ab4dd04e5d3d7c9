"""Every subcommand's --help says what it does and what it reads and writes; `run --help` names the
config it reads, the folders it watches, the socket, and how to stop it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sp404d.cli import _parser

COMMANDS = sorted(_parser()._subparsers._group_actions[0].choices)


def _help(*args: str, env: dict | None = None) -> str:
    r = subprocess.run([sys.executable, "-m", "sp404d", *args, "--help"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_says_what_it_does_and_touches(command):
    text = _help(command)
    description = text.split("\n\n")[1]  # after the usage paragraph
    assert not description.lstrip().startswith(("options:", "positional")), f"{command} --help has no description"
    if command != "kit":  # kit's actions say it: below
        assert "Reads" in text or "Writes" in text or "reads" in text, f"{command} --help says nothing of what it reads or writes"


@pytest.mark.parametrize("action", ["new", "set", "pin", "show"])
def test_kit_actions_have_descriptions(action):
    assert "library" in _help("kit", action)


def test_run_help_names_config_folders_socket_and_how_to_stop(tmp_path):
    config = tmp_path / "mine.toml"
    drop, sock = tmp_path / "my drop", tmp_path / "run" / "s.sock"
    config.write_text(f'[watch]\nfolders = ["{drop}"]\n[control]\nsocket = "{sock}"\n')
    import os

    text = _help("--config", str(config), "run")
    flat = " ".join(text.split())
    assert f"config: packaged defaults + {config}" in flat
    assert f"watches: {drop}" in flat
    assert f"socket: {sock}" in flat
    assert "sp404d stop" in flat and "SIGTERM" in flat
    broken = tmp_path / "broken.toml"
    broken.write_text("[watch\n")
    flat = " ".join(_help("run", env={**os.environ, "SP404D_CONFIG": str(broken)}).split())
    assert f"config: {broken}: " in flat and "not valid TOML" in flat
