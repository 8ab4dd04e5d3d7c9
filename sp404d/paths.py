"""Where sp404d keeps things by default, per platform.

Runtime dir: $XDG_RUNTIME_DIR/sp404d on Linux; the app-support dir on macOS. platformdirs falls
back to /tmp when XDG_RUNTIME_DIR is unset; a socket must never live in a shared /tmp, so we
fall back to /run/user/<uid> when it is ours, else to the user's state dir.
"""

import os
import sys
from pathlib import Path

import platformdirs

APP = "sp404d"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "sp404d.toml"


def runtime_dir() -> Path:
    if sys.platform == "darwin":
        return Path(platformdirs.user_data_dir(APP))
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / APP
    run_user = Path(f"/run/user/{os.getuid()}")
    if run_user.is_dir() and run_user.stat().st_uid == os.getuid():
        return run_user / APP
    return Path(platformdirs.user_state_dir(APP))


def user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def expand(value: str) -> Path:
    """Expand ~, {data}, {runtime} and {user} in a configured path."""
    value = value.replace("{data}", str(data_dir())).replace("{runtime}", str(runtime_dir()))
    value = value.replace("{user}", user_name())
    return Path(os.path.expanduser(value))
