"""The fault suite's two sizes: short (CI, every run) and long (opt-in, the issue's full sizes).

    pytest -m services tests/reliability                       # short
    MOS_RELIABILITY=long pytest -m services tests/reliability  # short, then long: 20 kills in 50k events, …
    MOS_RELIABILITY=long pytest -m reliability_long tests/reliability   # long only

Every test takes a `sizes` parameter; the long one carries the `reliability_long` marker and
is skipped unless opted in (it takes tens of minutes on a 2-core machine).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest

from mos.config import PipelineSettings
from tests.pipeline.test_faust_pipeline import DIMENSION, close_read_models  # noqa: F401 (fixture)


@dataclass(frozen=True)
class Sizes:
    mode: str
    kill_events: int  # events streamed while the worker is SIGKILLed …
    kills: int  # … this many times
    restart_events: int  # events appended across a broker stop / restart
    poison_good: int  # good events interleaved with …
    poison_bad: int  # … this many bad records (a quarter of each kind)
    outage_events: int  # events streamed across a read-model outage …
    outage_s: float  # … this long …
    outage_servers: tuple[str, ...]  # … of each of these (one after the other)

    def __str__(self) -> str:
        return self.mode


SHORT = Sizes("short", kill_events=3_000, kills=4, restart_events=2_000, poison_good=2_000, poison_bad=600,
              outage_events=2_000, outage_s=5.0, outage_servers=("elasticsearch",))
LONG = Sizes("long", kill_events=50_000, kills=20, restart_events=20_000, poison_good=20_000, poison_bad=8_000,
             outage_events=20_000, outage_s=30.0, outage_servers=("elasticsearch", "neo4j"))
SIZES = [SHORT, pytest.param(LONG, marks=pytest.mark.reliability_long, id="long")]


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MOS_RELIABILITY") == "long":
        return
    skip = pytest.mark.skip(reason="the fault suite's long mode: set MOS_RELIABILITY=long")
    for item in items:
        if "reliability_long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=SIZES, ids=str)
def sizes(request) -> Sizes:
    return request.param


def isolated_settings(endpoints, **overrides) -> PipelineSettings:
    """Topics, index, namespace and Faust app unique to one test, on `endpoints`."""
    return PipelineSettings.isolated(endpoints, f"mos-rel-{uuid.uuid4().hex[:10]}", embedding_dimension=DIMENSION,
                                     **overrides)


@pytest.fixture
def shared_settings() -> PipelineSettings:
    from streams.services import endpoints_for_tests

    return isolated_settings(endpoints_for_tests())


_REPORT: list[str] = []


@pytest.fixture
def report(request):
    """`report("…")`: a line of figures printed in the run's summary (whether or not -s is given)."""

    def add(line: str) -> None:
        _REPORT.append(f"{request.node.name}: {line}")

    return add


def pytest_terminal_summary(terminalreporter):
    if _REPORT:
        terminalreporter.section("fault suite figures")
        for line in _REPORT:
            terminalreporter.write_line(line)
