"""Crypto-shredding: per-memory data keys (a `KeyStore` port) and the `ContentSealer` the codec uses."""

from __future__ import annotations

from pathlib import Path

from streams.keys.port import KeyStore
from streams.keys.sealer import ContentSealer, KeyStoreMissing
from streams.keys.sqlite_key_store import SqliteKeyStore

__all__ = ["ContentSealer", "KeyStore", "KeyStoreMissing", "SqliteKeyStore", "pipeline_codec"]


def pipeline_codec(settings=None, data_dir: Path | None = None):
    """The codec of a pipeline process (Faust worker, model runtime, scheduler): it opens
    and seals memory content with the key store the producers use — `settings.keystore_path`
    (MOS_KEYSTORE), else `<data dir>/keys.db` (MOS_DATA_DIR)."""
    from mos.config import MosSettings, PipelineSettings
    from streams.avro_codec import AvroEventCodec

    settings = settings or PipelineSettings.from_env()
    if settings.keystore_path:
        path = Path(settings.keystore_path)
    else:
        path = Path(data_dir or MosSettings.from_env().data_dir) / "keys.db"
    return AvroEventCodec.from_directory(sealer=ContentSealer(SqliteKeyStore(path)))
