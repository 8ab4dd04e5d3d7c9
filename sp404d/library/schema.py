"""Opening the library: pragmas, schema version, and migrations.

Migrations are a list; migration N brings a version N-1 library to version N. A library newer
than this program is refused rather than guessed at.
"""

from __future__ import annotations

from pathlib import Path

import peewee as pw

from sp404d.errors import Sp404dError
from sp404d.library.models import MODELS, Setting, database

PRAGMAS = {
    "journal_mode": "wal",       # readers never block the writer, nor it them
    "synchronous": "normal",     # durable at checkpoints; safe with WAL
    "foreign_keys": 1,
    "busy_timeout": 30_000,      # only ever waits on checkpoints or foreign tools, never errors
    "cache_size": -16_000,
}


def _v1_initial(db: pw.SqliteDatabase) -> None:
    db.create_tables(MODELS)


MIGRATIONS = [_v1_initial]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: pw.SqliteDatabase) -> int:
    if not db.table_exists("setting"):
        return 0
    row = Setting.get_or_none(Setting.key == "schema_version")
    return int(row.value) if row else 0


def migrate(db: pw.SqliteDatabase) -> int:
    """Bring the library up to SCHEMA_VERSION; returns the version it was at."""
    with db.atomic("IMMEDIATE"):
        found = schema_version(db)
        if found > SCHEMA_VERSION:
            raise Sp404dError(f"the library has schema version {found}; this sp404d knows up to {SCHEMA_VERSION}: upgrade sp404d")
        for step in MIGRATIONS[found:]:
            step(db)
        Setting.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()
    return found


def open_library(path: Path, migrate_schema: bool = True) -> pw.SqliteDatabase:
    """Bind the models to the library at `path`. Connections are per thread (peewee's default),
    so each reader thread and the writer thread have their own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = pw.SqliteDatabase(str(path), pragmas=PRAGMAS, check_same_thread=False, timeout=30)
    database.initialize(db)
    if migrate_schema:
        migrate(db)
    return db
