"""Configuration: the packaged defaults, with the user's file merged over them.

Every value is validated here, once, with an error that names the key and the file, so the rest
of the program can trust a `Config`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from sp404d import paths
from sp404d.errors import ConfigError


@dataclass(frozen=True)
class Config:
    library_path: Path
    watch_folders: tuple[Path, ...]
    settle_seconds: float
    rescan_minutes: float
    observer: str
    poll_seconds: float
    workers: int
    timeout_seconds: float
    max_file_mb: float
    socket_path: Path
    log_level: str
    mount_roots: tuple[Path, ...] = ()
    card_labels: tuple[str, ...] = ()
    ingest_labels: tuple[str, ...] = ()
    ingest_exports: bool = True
    card_poll_seconds: float = 2.0
    kits: tuple = ()  # kits.define.KitDef, from [[kits]]
    source: tuple[str, ...] = field(default=())  # files that were read, for `doctor` and errors

    @property
    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1)

    @property
    def lock_path(self) -> Path:
        return self.library_path.with_name(self.library_path.name + ".lock")


def default_config_text() -> str:
    """The commented default file (config/sp404d.toml), installed as package data."""
    try:
        return resources.files("sp404d.defaults").joinpath("sp404d.toml").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # running from a source tree
        return (Path(__file__).resolve().parent.parent / "config" / "sp404d.toml").read_text("utf-8")


# -- validators: each takes (key, value) and returns the converted value or raises ConfigError --

def _number(minimum: float, maximum: float = float("inf")) -> Callable[[str, Any], float]:
    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= maximum:
            raise ConfigError(f"{key} must be a number from {minimum:g} to {maximum:g} (got {value!r})")
        return float(value)
    return check


def _integer(minimum: int, maximum: int) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise ConfigError(f"{key} must be a whole number from {minimum} to {maximum} (got {value!r})")
        return value
    return check


def _path(key: str, value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty path string (got {value!r})")
    return paths.expand(value)


def _paths(key: str, value: Any) -> tuple[Path, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list of path strings (got {value!r})")
    return tuple(_path(f"{key}[{i}]", v) for i, v in enumerate(value))


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)} (got {value!r})")
        return value
    return check


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of strings (got {value!r})")
    return tuple(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false (got {value!r})")
    return value


# section -> key -> (Config field, validator)
SCHEMA: dict[str, dict[str, tuple[str, Callable[[str, Any], Any]]]] = {
    "library": {"path": ("library_path", _path)},
    "watch": {
        "folders": ("watch_folders", _paths),
        "settle_seconds": ("settle_seconds", _number(0, 3600)),
        "rescan_minutes": ("rescan_minutes", _number(0, 7 * 24 * 60)),
        "observer": ("observer", _choice("auto", "polling")),
        "poll_seconds": ("poll_seconds", _number(0.1, 3600)),
    },
    "analysis": {
        "workers": ("workers", _integer(0, 256)),
        "timeout_seconds": ("timeout_seconds", _number(1, 24 * 3600)),
        "max_file_mb": ("max_file_mb", _number(1, 1 << 20)),
    },
    "control": {"socket": ("socket_path", _path)},
    "log": {"level": ("log_level", _choice("debug", "info", "warning", "error"))},
    "cards": {
        "mount_roots": ("mount_roots", _paths),
        "labels": ("card_labels", _strings),
        "ingest_labels": ("ingest_labels", _strings),
        "ingest_exports": ("ingest_exports", _bool),
        "poll_seconds": ("card_poll_seconds", _number(0.2, 3600)),
    },
}


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{origin}: not valid TOML: {e}") from None


def merge(base: dict[str, Any], override: dict[str, Any], origin: str) -> dict[str, Any]:
    """Merge a user table over the defaults, refusing unknown sections and keys (typos)."""
    merged = {section: (dict(values) if isinstance(values, dict) else list(values)) for section, values in base.items()}
    for section, values in override.items():
        if section == "kits":  # an array of tables: the user's kits come after (and replace) the defaults
            if not isinstance(values, list):
                raise ConfigError(f"{origin}: kits must be an array of tables, written [[kits]]")
            merged["kits"] = merged.get("kits", []) + values
            continue
        if section not in SCHEMA:
            raise ConfigError(f"{origin}: unknown section [{section}] (known: {', '.join(SCHEMA)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: {section} must be a table, like [{section}]")
        for key, value in values.items():
            if key not in SCHEMA[section]:
                raise ConfigError(f"{origin}: unknown key {section}.{key} (known: {', '.join(SCHEMA[section])})")
            merged.setdefault(section, {})[key] = value
    return merged


def build(table: dict[str, Any], origin: str = "config", source: tuple[str, ...] = ()) -> Config:
    values: dict[str, Any] = {}
    for section, keys in SCHEMA.items():
        for key, (attr, check) in keys.items():
            try:
                raw = table[section][key]
            except KeyError:
                raise ConfigError(f"{origin}: missing key {section}.{key}") from None
            try:
                values[attr] = check(f"{section}.{key}", raw)
            except ConfigError as e:
                raise ConfigError(f"{origin}: {e}") from None
    from sp404d.kits.define import parse_kits

    values["kits"] = parse_kits(table.get("kits", []), origin)
    return Config(**values, source=source)


def user_config_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """The user's file: --config, else $SP404D_CONFIG, else the platform config file if present."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("SP404D_CONFIG")
    if env:
        return Path(env).expanduser()
    default = paths.config_file()
    return default if default.is_file() else None


def load(explicit: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> Config:
    table = _parse(default_config_text(), "packaged defaults")
    source = ["packaged defaults"]
    user = user_config_path(explicit)
    if user is not None:
        try:
            text = user.read_text("utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read config file {user}: {e.strerror}") from None
        table = merge(table, _parse(text, str(user)), str(user))
        source.append(str(user))
    if overrides:
        table = merge(table, overrides, "command line")
    return build(table, origin=source[-1], source=tuple(source))
