"""Peewee models. A *sample* is a sound; a *location* is a file path where it lives."""

from __future__ import annotations

import os

import peewee as pw

database = pw.DatabaseProxy()


class PathField(pw.Field):
    """A filesystem path. Stored as TEXT when it is valid UTF-8, else as the raw bytes (a BLOB),
    so a name with invalid UTF-8 is recorded and can still be opened again."""

    field_type = "TEXT"

    def db_value(self, value):
        if value is None:
            return None
        try:
            return value.encode("utf-8") and value  # surrogate-escaped names fail here
        except UnicodeEncodeError:
            return os.fsencode(value)

    def python_value(self, value):
        return os.fsdecode(value) if isinstance(value, bytes) else value


class Base(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Setting(Base):
    """Key/value facts about the library itself (schema_version)."""

    key = pw.CharField(primary_key=True)
    value = pw.TextField()


class Sample(Base):
    pcm_hash = pw.CharField(unique=True)  # xxh3_128 of decoded integer PCM
    samplerate = pw.IntegerField()
    channels = pw.IntegerField()
    subtype = pw.CharField()
    bit_depth = pw.IntegerField(null=True)
    frames = pw.BigIntegerField()
    duration = pw.FloatField()
    analysis_version = pw.IntegerField()
    created_at = pw.FloatField()


class ImportRun(Base):
    kind = pw.CharField()  # "daemon" or "import"
    started_at = pw.FloatField()
    finished_at = pw.FloatField(null=True)
    seen = pw.IntegerField(default=0)
    unchanged = pw.IntegerField(default=0)
    analysed = pw.IntegerField(default=0)
    recorded = pw.IntegerField(default=0)
    duplicates = pw.IntegerField(default=0)
    failed = pw.IntegerField(default=0)


class Location(Base):
    path = PathField(unique=True)
    sample = pw.ForeignKeyField(Sample, backref="locations", on_delete="RESTRICT")
    size = pw.BigIntegerField()
    mtime_ns = pw.BigIntegerField()
    byte_hash = pw.CharField(index=True)  # xxh3_128 of the file's bytes
    container = pw.CharField()
    match = pw.CharField()  # how it joined its sample: first, exact-bytes, exact-pcm
    state = pw.CharField(default="present", index=True)  # present or missing
    first_seen = pw.FloatField()
    last_seen = pw.FloatField()
    run = pw.ForeignKeyField(ImportRun, null=True, on_delete="SET NULL")


class Failure(Base):
    path = PathField(unique=True)
    size = pw.BigIntegerField()
    mtime_ns = pw.BigIntegerField()
    category = pw.CharField(index=True)
    message = pw.TextField()
    attempts = pw.IntegerField(default=1)
    first_at = pw.FloatField()
    last_at = pw.FloatField()


MODELS = [Setting, Sample, ImportRun, Location, Failure]


def path_under(folder: str, field=None):
    """Rows whose path lies below `folder`, as an index range (LIKE would fold ASCII case)."""
    field = field or Location.path
    prefix = folder.rstrip("/") + "/"
    return (field >= prefix) & (field < prefix[:-1] + "0")  # "0" sorts right after "/"
