"""MemScheduler: turns access signals into promotions, demotions, merges and archives.

`heat` folds the log into per-memory heat (pure, rebuildable by replay), `policies` decides
from that state and a clock (pure), `runner` appends each decision as an event with its
reason. Artifacts follow from those events through the model runtime.
"""

from mos.scheduler.config import SchedulerConfig, load_config
from mos.scheduler.runner import MemScheduler, SchedulerReport

__all__ = ["MemScheduler", "SchedulerConfig", "SchedulerReport", "load_config"]
