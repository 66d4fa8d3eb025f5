"""Lag of the projection behind the log, sampled at a fixed interval, and its plot.

Two positions are sampled against the log end (the last stable offset, what a
read_committed reader can reach), because under load they can differ:
- the worker's consumer group committed offset on the events topic — Kafka's own notion
  of consumer lag, what `kafka-consumer-groups.sh` and lag alerts show. Faust commits an
  offset once every agent has processed the records before it;
- the read models' checkpoint, min(Elasticsearch, Neo4j): what is visible to searches. The
  Faust worker advances it, and so does the REST server, whose SDK projects the log tail
  in-process before each read (read-your-writes).
Each MOS append is one Kafka transaction whose commit marker takes an offset of its own.
Faust commits record offset + 1 and a read-model checkpoint is record offset + 1, so a
position that has everything sits just below the end, on the marker of the last
transaction: both lags count that marker out (exact when no transaction is open, to within
one offset while appends are in flight). With faust-streaming 0.15.3 alone the committed
offset advanced by about one transaction per commit interval (0.5 s) and trailed the read
models by thousands of offsets; `streams/faust_offsets.py` fixes that (bench/load.py prints
how far the two positions are apart).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class LagSample:
    t: float  # seconds since the sampler's start (time.monotonic based)
    end: int  # last stable offset of the events topic
    committed: int  # the worker group's committed offset, -1 before its first commit
    checkpoint: int  # min(Elasticsearch, Neo4j) read-model checkpoint: the next offset to apply
    lag: int  # offsets the worker has not committed yet (consumer-group lag), marker excluded
    projection_lag: int  # offsets not yet in both read models, marker excluded


def lag_of(end: int, position: int) -> int:
    """Offsets between `position` (next offset to process; < 0: none yet) and the end."""
    return max(0, end - max(position, 0) - 1)


class LagSampler(threading.Thread):
    """Samples (end, committed) every `interval_s` on its own event loop until `stop()`."""

    def __init__(self, settings, interval_s: float = 0.5):
        super().__init__(name="lag-sampler", daemon=True)
        self.settings, self.interval_s = settings, interval_s
        self.bootstrap, self.topic, self.group = settings.kafka_bootstrap, settings.events_topic, settings.faust_app_id
        self.samples: list[LagSample] = []
        self.started_at = time.monotonic()
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._fresh = threading.Condition()

    def now(self) -> float:
        return time.monotonic() - self.started_at

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            asyncio.run(self._sample_until_stopped())
        except BaseException as exc:  # noqa: BLE001 — reported to the main thread by wait_for
            self.error = exc
            with self._fresh:
                self._fresh.notify_all()

    async def _sample_until_stopped(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        partition = TopicPartition(self.topic, 0)
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, isolation_level="read_committed",
                                  enable_auto_commit=False)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        from tests.pipeline.real_read_models import make_graph, make_index

        index, graph = make_index(self.settings, ephemeral=False), make_graph(self.settings, ephemeral=False)
        await reader.start()
        await admin.start()
        try:
            while not self._halt.is_set():
                due = time.monotonic() + self.interval_s
                end = (await reader.end_offsets([partition]))[partition]
                offsets = await admin.list_consumer_group_offsets(self.group, partitions=[partition])
                found = offsets.get(partition)
                committed = found.offset if found is not None else -1
                checkpoint = min(index.checkpoint(), graph.checkpoint())  # a few ms; the loop is ours
                sample = LagSample(round(self.now(), 3), end, committed, checkpoint, lag_of(end, committed),
                                   lag_of(end, checkpoint))
                with self._fresh:
                    self.samples.append(sample)
                    self._fresh.notify_all()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        finally:
            await reader.stop()
            await admin.close()
            index.close()
            graph.close()

    def wait_for(self, condition, timeout_s: float, what: str, alive=lambda: None,
                 since: float | None = None) -> LagSample:
        """The first sample taken at or after `since` (default: now) that meets `condition`.
        TimeoutError after `timeout_s`; `alive()` may raise to fail fast (say, when the worker
        has exited)."""
        since = self.now() if since is None else since
        deadline = time.monotonic() + timeout_s
        checked = 0
        with self._fresh:
            while True:
                for sample in self.samples[checked:]:
                    if sample.t >= since and condition(sample):
                        return sample
                checked = len(self.samples)
                if self.error is not None:
                    raise RuntimeError(f"the lag sampler failed: {self.error!r}") from self.error
                alive()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
                self._fresh.wait(min(left, 1.0))


def write_samples(path: Path, samples: list[LagSample], phases: dict[str, float], extra: dict) -> None:
    path.write_text(json.dumps({**extra, "phases": phases, "samples": [asdict(s) for s in samples]}, indent=1))


def plot(path: Path, samples: list[LagSample], phases: dict[str, float], acks: dict[str, list[float]],
         title: str) -> None:
    """Lag over time (top) and acknowledged events per second by writer (bottom), with the
    load, drain and baseline phases shaded. `acks` maps a writer name to its ack times
    (seconds on the sampler's clock, one entry per acknowledged event)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=(3, 2))
    times = [s.t for s in samples]
    top.plot(times, [s.lag for s in samples], color="tab:red", linewidth=1.2,
             label="worker consumer-group lag (end - committed)")
    top.plot(times, [s.projection_lag for s in samples], color="tab:purple", linewidth=1.2, linestyle="--",
             label="read-model lag (end - min(ES, Neo4j checkpoint))")
    top.set_ylabel("lag (offsets)")
    top.set_title(title, fontsize=10)
    shades = [("load_start", "load_end", "tab:orange", "write load (+ requests in flight)"),
              ("load_end", "drained", "tab:blue", "drain"),
              ("baseline_start", "baseline_end", "tab:green", "search baseline")]
    for start, end, color, label in shades:
        if start in phases and end in phases:
            for axis in (top, bottom):
                axis.axvspan(phases[start], phases[end], color=color, alpha=0.12, label=label if axis is top else None)
    if "writes_stopped" in phases:
        for axis in (top, bottom):
            axis.axvline(phases["writes_stopped"], color="tab:orange", linewidth=0.8, linestyle=":")
    top.legend(loc="upper right", fontsize=7)
    top.grid(alpha=0.3)
    horizon = max(times, default=1.0)
    bins = np.arange(0.0, horizon + 1.0, 1.0)
    for name, when in acks.items():
        counts, edges = np.histogram(when, bins=bins)
        bottom.step(edges[:-1], counts, where="post", linewidth=1.0, label=name)
    bottom.set_ylabel("acked events / s")
    bottom.set_xlabel("seconds since the sampler started")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
