"""Peewee models. A *sample* is a sound; a *location* is a file path where it lives."""

from __future__ import annotations

import json
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


class JSONField(pw.TextField):
    """A small JSON value (the MFCC vectors) in a TEXT column."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


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
    # analysis (schema v2): every value with its confidence and where it came from
    kind = pw.CharField(null=True, index=True)  # loop or one-shot
    kind_confidence = pw.FloatField(null=True)
    kind_source = pw.CharField(null=True)
    bpm = pw.FloatField(null=True, index=True)  # loops only; never a guess for a one-shot
    bpm_confidence = pw.FloatField(null=True)
    bpm_source = pw.CharField(null=True)  # metadata, name, folder, duration, audio
    bpm_alt = pw.FloatField(null=True, index=True)  # the runner-up reading (half or double time) when close
    bars = pw.IntegerField(null=True)
    key = pw.CharField(null=True, index=True)  # C, C#, ... B
    scale = pw.CharField(null=True)  # major or minor
    key_confidence = pw.FloatField(null=True)
    key_source = pw.CharField(null=True)
    category = pw.CharField(null=True, index=True)
    category_confidence = pw.FloatField(null=True)
    category_source = pw.CharField(null=True)
    peak_dbfs = pw.FloatField(null=True)
    rms_dbfs = pw.FloatField(null=True)
    loudness_lufs = pw.FloatField(null=True)
    clipped_samples = pw.IntegerField(null=True)
    onset_rate = pw.FloatField(null=True)
    centroid_hz = pw.FloatField(null=True)
    bandwidth_hz = pw.FloatField(null=True)
    rolloff_hz = pw.FloatField(null=True)
    flatness = pw.FloatField(null=True)
    zcr = pw.FloatField(null=True)
    hp_ratio = pw.FloatField(null=True)
    tonalness = pw.FloatField(null=True)
    mfcc_mean = JSONField(null=True)
    mfcc_std = JSONField(null=True)
    # near duplicates (schema v3): samples of one sound form a group; its canonical member is the
    # best-quality source (lossless, then higher rate and depth, then longer)
    fingerprint = pw.BlobField(null=True)  # analysis.fingerprint.Fingerprint.pack()
    fp_key = pw.BlobField(null=True)       # library.near_index.pack_key(): what the index ranks by
    lossless = pw.BooleanField(null=True)
    group_id = pw.IntegerField(null=True, index=True)  # the id of the group's canonical sample
    group_distance = pw.FloatField(null=True)          # fingerprint bit error rate to the canonical sample
    canonical = pw.BooleanField(null=True)
    # schema v6: the waveform evidence (analysis.signature) that confirms a near duplicate
    signature = pw.BlobField(null=True)                # analysis.signature.Signature.pack()
    group_correlation = pw.FloatField(null=True)       # waveform correlation with the canonical sample
    # schema v8: the sound's vector for "more like this" (analysis.embedding.pack(); its length is
    # the analyser's business, so it is never assumed here)
    embedding = pw.BlobField(null=True)


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
    match = pw.CharField()  # how it joined: first, exact-bytes, exact-pcm, near (its sample joined a group)
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
    # the analyser that failed it (None: intake failed it, or a library before schema 5): a newer
    # analyser retries what an older one could not decode
    analysis_version = pw.IntegerField(null=True)


class Source(Base):
    """A labelled place files came from (a card's EXPORT folder, an ingested volume): `source:LABEL`
    in a query means the files under its root."""

    label = pw.CharField(unique=True)
    root = PathField()
    kind = pw.CharField()  # card-export or volume
    last_seen = pw.FloatField()


class Kit(Base):
    """A kit made or changed from the CLI. Kits from the config have a row only once a pad of
    theirs is pinned or set; the config stays their definition otherwise."""

    name = pw.CharField(unique=True)
    filter = pw.TextField(null=True)
    sync = pw.BooleanField(default=True)
    created_at = pw.FloatField()


class KitPad(Base):
    """One pad of a kit, as set from the CLI: a query, or a pinned sample (which wins)."""

    kit = pw.ForeignKeyField(Kit, backref="pads", on_delete="CASCADE")
    pad = pw.IntegerField()  # 1..16
    query = pw.TextField(null=True)
    sample = pw.ForeignKeyField(Sample, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("kit", "pad"), True),)


MODELS = [Setting, Sample, ImportRun, Location, Failure, Source, Kit, KitPad]

# columns added by schema v2, in order (the migration adds exactly these)
ANALYSIS_V2_FIELDS = ("kind", "kind_confidence", "kind_source", "bpm", "bpm_confidence", "bpm_source", "bars", "key",
                   "scale", "key_confidence", "key_source", "category", "category_confidence", "category_source",
                   "peak_dbfs", "rms_dbfs", "loudness_lufs", "clipped_samples", "onset_rate", "centroid_hz",
                   "bandwidth_hz", "rolloff_hz", "flatness", "zcr", "hp_ratio", "tonalness", "mfcc_mean", "mfcc_std")
# columns added by schema v6
TEMPO_ALT_FIELDS = ("bpm_alt",)
# everything the analysis stores
ANALYSIS_FIELDS = ANALYSIS_V2_FIELDS + TEMPO_ALT_FIELDS

# columns added by schema v3
NEAR_FIELDS = ("fingerprint", "fp_key", "lossless", "group_id", "group_distance", "canonical")
# columns added by schema v6
SIGNATURE_FIELDS = ("signature", "group_correlation")
# columns added by schema v8
EMBEDDING_FIELDS = ("embedding",)


def path_under(folder: str, field=None):
    """Rows whose path lies below `folder`, as an index range (LIKE would fold ASCII case)."""
    field = field or Location.path
    prefix = folder.rstrip("/") + "/"
    return (field >= prefix) & (field < prefix[:-1] + "0")  # "0" sorts right after "/"
