"""The MemScheduler inside the Faust worker (Kafka backend), with its own log reader."""

from __future__ import annotations

import logging
from pathlib import Path

from mos.config import MosSettings, PipelineSettings

log = logging.getLogger(__name__)


def scheduler_for_worker(pipeline: PipelineSettings, settings: MosSettings | None = None):
    """A MemScheduler over the Kafka log, or None when MOS_SCHEDULER_INTERVAL_SECONDS is 0.
    The policy file (MOS_SCHEDULER_CONFIG) is validated here, before the worker starts."""
    from mos.scheduler import MemScheduler, load_config
    from streams.kafka.event_log import KafkaEventLog
    from streams.keys import pipeline_codec

    if pipeline.scheduler_interval_seconds <= 0:
        log.info("scheduler disabled: MOS_SCHEDULER_INTERVAL_SECONDS is 0")
        return None
    config = load_config(pipeline.scheduler_config)
    settings = settings or MosSettings.from_env()
    cache = Path(settings.data_dir) / "scheduler-kafka-streams.db"
    cache.parent.mkdir(parents=True, exist_ok=True)
    codec = pipeline_codec(pipeline, settings.data_dir)
    return MemScheduler(KafkaEventLog(pipeline.log_config(), cache_path=cache, codec=codec), config)
