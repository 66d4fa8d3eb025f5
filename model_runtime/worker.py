"""The model runtime inside the Faust worker (Kafka backend).

The worker's `mos.model_runtime` agent wakes on every record of the promotions feed and,
on a timer, also catches up with content changes (an update of a promoted memory makes its
artifact stale without any promotion event). Either way the runtime itself reads the log
from its own checkpoint, so a wake-up is only a hint and nothing depends on its timing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mos.config import MosSettings, PipelineSettings

log = logging.getLogger(__name__)


def runtime_for_worker(pipeline: PipelineSettings, settings: MosSettings | None = None):
    """An ArtifactRuntime over the Kafka log, or None when no model is configured (MOS_MODEL)."""
    from model_runtime.artifact_store import DirectoryArtifactStore
    from model_runtime.models import load_causal_lm
    from model_runtime.runtime import ArtifactRuntime
    from streams.kafka.event_log import KafkaEventLog
    from streams.keys import pipeline_codec

    settings = settings or MosSettings.from_env()
    if settings.model_dir is None:
        log.info("model runtime disabled: MOS_MODEL is not set")
        return None
    artifacts = Path(settings.data_dir) / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    event_log = KafkaEventLog(pipeline.log_config(), cache_path=artifacts / "runtime-kafka-streams.db",
                              codec=pipeline_codec(pipeline, settings.data_dir))
    model_dir = settings.model_dir
    return ArtifactRuntime(event_log, DirectoryArtifactStore(artifacts), lambda: load_causal_lm(model_dir),
                           artifacts / "runtime-state.json")
