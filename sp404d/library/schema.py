"""Opening the library: pragmas, schema version, and migrations.

Migrations are a list; migration N brings a version N-1 library to version N. A library newer
than this program is refused rather than guessed at.
"""

from __future__ import annotations

import os
from pathlib import Path

import peewee as pw

from sp404d.errors import Sp404dError
from playhouse.migrate import SqliteMigrator
from playhouse.migrate import migrate as run_migrations

from sp404d.library.models import (ANALYSIS_V2_FIELDS, EMBEDDING_FIELDS, MODELS, NEAR_FIELDS, SIGNATURE_FIELDS, TEMPO_ALT_FIELDS, Failure,
                                   Kit, KitPad, Sample, Setting, Source, database)

PRAGMAS = {
    "journal_mode": "wal",       # readers never block the writer, nor it them
    "synchronous": "normal",     # durable at checkpoints; safe with WAL
    "foreign_keys": 1,
    "busy_timeout": 30_000,      # only ever waits on checkpoints or foreign tools, never errors
    "cache_size": -16_000,
}


def _v2_analysis(db: pw.SqliteDatabase) -> None:
    """Kind, tempo, key, category and features, each with confidence and source."""
    migrator = SqliteMigrator(db)
    # add_column also creates the index of fields declared index=True (kind, bpm, key, category)
    run_migrations(*[migrator.add_column("sample", name, getattr(Sample, name)) for name in ANALYSIS_V2_FIELDS])


def _v3_near_duplicates(db: pw.SqliteDatabase) -> None:
    """Fingerprints and sample groups. Every existing sample starts as its own group and canonical;
    the analyser version bump re-analyses them, and the writer then groups the near duplicates."""
    migrator = SqliteMigrator(db)
    run_migrations(*[migrator.add_column("sample", name, getattr(Sample, name)) for name in NEAR_FIELDS])
    db.execute_sql("UPDATE sample SET group_id = id, canonical = 1, lossless = (bit_depth IS NOT NULL)")


def _v4_kits(db: pw.SqliteDatabase) -> None:
    """Sources (cards and volumes files came from), kits and their pads."""
    db.create_tables([Source, Kit, KitPad])


def _v5_failure_version(db: pw.SqliteDatabase) -> None:
    """Which analyser failed a file, so that a newer one retries what it could not decode."""
    migrator = SqliteMigrator(db)
    run_migrations(migrator.add_column("failure", "analysis_version", Failure.analysis_version))


def _v6_bpm_alt(db: pw.SqliteDatabase) -> None:
    """The runner-up tempo reading (a half-time feel: 87 or 174), so that bpm searches find either.
    Existing samples have none until the analyser version bump re-analyses them."""
    migrator = SqliteMigrator(db)
    run_migrations(*[migrator.add_column("sample", name, getattr(Sample, name)) for name in TEMPO_ALT_FIELDS])


def _v7_waveform_groups(db: pw.SqliteDatabase) -> None:
    """The waveform signature that confirms a near duplicate. The groups an older analyser made
    trusted the fingerprint alone, and some hid a different sound behind another: they are undone
    here (every sample its own group, each file what it is by its bytes and PCM), and the writer
    makes them again as the analyser (version 7 and later) describes each sample once more."""
    migrator = SqliteMigrator(db)
    run_migrations(*[migrator.add_column("sample", name, getattr(Sample, name)) for name in SIGNATURE_FIELDS])
    db.execute_sql("UPDATE sample SET group_id = id, canonical = 1, group_distance = NULL")
    db.execute_sql("UPDATE location SET match = 'first' WHERE match = 'near'")


def _v8_embedding(db: pw.SqliteDatabase) -> None:
    """The vector that "more like this" compares. Existing samples have none until the analyser
    version bump (9) re-analyses them; until then they are simply not offered as similar."""
    migrator = SqliteMigrator(db)
    run_migrations(*[migrator.add_column("sample", name, getattr(Sample, name)) for name in EMBEDDING_FIELDS])


# MIGRATIONS[n] upgrades a library at version n+1 to version n+2. A new library is created at the
# current version directly; version 1 (the spine) had no analysis columns.
MIGRATIONS = [_v2_analysis, _v3_near_duplicates, _v4_kits, _v5_failure_version, _v6_bpm_alt, _v7_waveform_groups,
              _v8_embedding]
SCHEMA_VERSION = len(MIGRATIONS) + 1


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
        if found == 0:
            db.create_tables(MODELS)
        else:
            for step in MIGRATIONS[found - 1:]:
                step(db)
        Setting.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()
    return found


def open_library(path: Path, migrate_schema: bool = True) -> pw.SqliteDatabase:
    """Bind the models to the library at `path`. Connections are per thread (peewee's default),
    so each reader thread and the writer thread have their own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = pw.SqliteDatabase(str(path), pragmas=PRAGMAS, check_same_thread=False, timeout=30)
    # name:... in queries matches the file name alone
    # (a path stored as bytes, not being UTF-8, gives bytes: SQLite cannot take a str with surrogates)
    db.register_function(lambda p: os.path.basename(p) if p is not None else None, "basename", 1)
    database.initialize(db)
    if migrate_schema:
        migrate(db)
    return db
