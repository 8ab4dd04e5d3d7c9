"""`sp404d doctor`: check the setup and say how to fix what is wrong. Read-only."""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from sp404d import paths
from sp404d.config import Config

MB = 1 << 20


@dataclass(frozen=True)
class Check:
    name: str
    status: str        # ok, warn, fail, skip
    detail: str
    fix: str = ""


def run(cfg: Config | None, config_error: Exception | None = None) -> list[Check]:
    """Every check. Without a valid config (`cfg` None, `config_error` why), the config is one failed
    check and the checks that do not need it still run; the others are listed as skipped."""
    if cfg is None:
        return [Check("config", "fail", str(config_error),
                      "correct the key or line it names in that file, then run `sp404d doctor` again"),
                _inotify(None), _ffmpeg(),
                Check("watch folders, daemon, library, cards", "skip", "not checked until the config is valid")]
    checks = [_config(cfg)]
    checks += _watch_folders(cfg)
    checks.append(_inotify([f for f in cfg.watch_folders if f.is_dir()]))
    checks.append(_ffmpeg())
    checks.append(_socket(cfg))
    checks += _library(cfg)
    checks += _cards(cfg)
    return checks


def _ffmpeg() -> Check:
    if shutil.which("ffmpeg"):
        return Check("ffmpeg", "ok", shutil.which("ffmpeg"))
    return Check("ffmpeg", "warn", "not found: M4A/AAC files cannot be decoded (other formats can)",
                 "install ffmpeg (apt install ffmpeg / brew install ffmpeg)")


def _config(cfg: Config) -> Check:
    """A config file of another name in the config folder is read by nobody: say so."""
    expected = paths.config_file()
    if len(cfg.source) == 1 and expected.parent.is_dir():
        others = sorted(p.name for p in expected.parent.glob("*.toml") if p.name != expected.name)
        if others:
            return Check("config", "warn", f"read from packaged defaults; {expected.parent} has {', '.join(others)}, "
                         f"which is not read", f"rename it to {expected}")
    return Check("config", "ok", "read from " + " + ".join(cfg.source))


def _watch_folders(cfg: Config) -> list[Check]:
    out = []
    for folder in cfg.watch_folders:
        if not folder.exists():
            out.append(Check(f"watch {folder}", "warn", "does not exist yet (the daemon creates it at start)",
                             f"mkdir -p {folder}"))
        elif not folder.is_dir():
            out.append(Check(f"watch {folder}", "fail", "is not a folder", "point watch.folders at a folder"))
        elif not os.access(folder, os.R_OK | os.X_OK):
            out.append(Check(f"watch {folder}", "fail", "is not readable by this user", f"chmod u+rx {folder}"))
        else:
            out.append(Check(f"watch {folder}", "ok", "readable"))
    return out


def count_folders(roots, limit: int = 1_000_000) -> int:
    n = 0
    for root in roots:
        for _ in os.walk(root):
            n += 1
            if n >= limit:
                return n
    return n


def _inotify(roots: list[Path] | None) -> Check:
    """roots: the watched folders that exist; None when they are not known (no valid config)."""
    limit_file = Path("/proc/sys/fs/inotify/max_user_watches")
    if not limit_file.exists():
        return Check("file events", "ok", "native events (FSEvents/kqueue); no watch limit to check")
    limit = int(limit_file.read_text().split()[0])
    if roots is None:
        return Check("inotify", "ok", f"max_user_watches {limit} (folders to watch not counted: no valid config)")
    folders = count_folders(roots)
    if folders >= limit:
        return Check("inotify", "fail", f"{folders} folders to watch but max_user_watches is {limit}: the daemon "
                     "falls back to polling", f"sudo sysctl fs.inotify.max_user_watches={max(524288, folders * 2)}")
    if folders > limit // 2:
        return Check("inotify", "warn", f"{folders} folders use most of max_user_watches ({limit})",
                     f"sudo sysctl fs.inotify.max_user_watches={folders * 4}")
    return Check("inotify", "ok", f"{folders} folders to watch, max_user_watches {limit}")


def _socket(cfg: Config) -> Check:
    from sp404d.control.client import daemon_running

    if daemon_running(cfg.socket_path):
        return Check("daemon", "ok", f"answers on {cfg.socket_path}")
    if cfg.socket_path.exists():
        return Check("daemon", "warn", f"{cfg.socket_path} exists but nothing answers (a stale socket)",
                     "start the daemon: it replaces a stale socket (`sp404d run` or `systemctl --user start sp404d`)")
    return Check("daemon", "warn", "not running", "`sp404d run`, or `systemctl --user enable --now sp404d`")


def _library(cfg: Config) -> list[Check]:
    from sp404d.library.schema import SCHEMA_VERSION

    path = cfg.library_path
    out = [_free_space("library disk", path.parent if path.parent.exists() else Path(path.anchor))]
    if not path.exists():
        return out + [Check("library", "ok", f"none yet at {path} (created at first start)")]
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            result = db.execute("PRAGMA quick_check").fetchone()[0]
            row = db.execute("SELECT value FROM setting WHERE key = 'schema_version'").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        return out + [Check("library", "fail", f"{path} cannot be read: {e}",
                            "restore it from a backup, or move it away to start a new library")]
    version = int(row[0]) if row else 0
    out.append(Check("library integrity", "ok" if result == "ok" else "fail", f"PRAGMA quick_check: {result}",
                     "" if result == "ok" else "stop the daemon, then `sqlite3 library.db .recover` into a new file"))
    if version > SCHEMA_VERSION:
        out.append(Check("schema", "fail", f"version {version}, newer than this sp404d ({SCHEMA_VERSION})",
                         "upgrade sp404d"))
    elif version < SCHEMA_VERSION:
        out.append(Check("schema", "ok", f"version {version}; upgraded to {SCHEMA_VERSION} at the next start"))
    else:
        out.append(Check("schema", "ok", f"version {version}"))
    return out


def _free_space(name: str, folder: Path) -> Check:
    st = os.statvfs(folder)
    if st.f_blocks == 0:
        return Check(name, "ok", f"{folder}: free space unknown (the filesystem does not say)")
    free = st.f_bavail * st.f_frsize
    if free < 100 * MB:
        return Check(name, "fail", f"{folder}: only {free / MB:.0f} MB free", "free some space on that disk")
    if free < 1024 * MB:
        return Check(name, "warn", f"{folder}: {free / MB:.0f} MB free", "free some space on that disk")
    return Check(name, "ok", f"{folder}: {free / MB / 1024:.1f} GB free")


def _cards(cfg: Config) -> list[Check]:
    from sp404d.card import detect

    roots = [r for r in cfg.mount_roots if r.is_dir()]
    volumes = detect.mounted(cfg.mount_roots, cfg.card_labels, cfg.ingest_labels)
    out = [Check("mount roots", "ok", ", ".join(map(str, roots)) or "none of them exist (no removable volumes)")]
    for v in volumes:
        if v.role != "card":
            out.append(Check(f"volume {v.label}", "ok", f"{v.path}: ingested when mounted"))
            continue
        writable = os.access(v.path, os.W_OK)
        out.append(Check(f"card {v.label}", "ok" if writable else "fail",
                         f"{v.path}: SP-404MKII card, {'writable' if writable else 'read-only'}",
                         "" if writable else "unlock the card's write-protect switch and mount it again"))
        if writable:
            out.append(_free_space(f"card {v.label} space", v.path))
    return out


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
