"""Scheduler policies and their thresholds, with defaults and validation at load.

Heat is an exponentially decayed access count: each access adds 1 (or its aggregated
count), and heat halves every half-life. Two clocks run side by side: a short one (a day)
for activation memory, a long one (a week) for parametric memory. Promotion and demotion
thresholds differ (hysteresis), so a memory at the edge does not flap between tiers.

Load from a mapping or a TOML file; every impossible value is rejected naming its field.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from mos.domain.errors import InvalidInput

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class ActivationPolicy:
    """Promote to a KV cache when short heat ≥ `min_heat` and has stayed hot for
    `stable_for_hours` (a stable hot set); demote when it falls below `demote_below`, but not
    within `min_promoted_hours` of the promotion — a memory promoted by hand, never accessed
    yet, would otherwise be demoted as cold by the very next tick. A cube holds at most
    `max_memories_per_cube`; when full, a candidate `displace_ratio` times hotter than the
    coldest member takes its place."""

    enabled: bool = True
    half_life_hours: float = 24.0
    min_heat: float = 5.0
    stable_for_hours: float = 1.0
    demote_below: float = 1.0
    min_promoted_hours: float = 24.0
    max_memories_per_cube: int = 32
    displace_ratio: float = 2.0


@dataclass(frozen=True)
class ParametricPolicy:
    """Distil into a LoRA adapter when long heat ≥ `min_heat` for `hot_for_days` in a row;
    demote below `demote_below`, not within `min_promoted_days` of the promotion."""

    enabled: bool = True
    half_life_days: float = 7.0
    min_heat: float = 20.0
    hot_for_days: float = 7.0
    demote_below: float = 4.0
    min_promoted_days: float = 7.0
    max_memories_per_cube: int = 256
    displace_ratio: float = 2.0


@dataclass(frozen=True)
class MergePolicy:
    """Merge two active memories of a cube when their embeddings' cosine similarity is ≥
    `min_similarity` and their word sets overlap (Jaccard) ≥ `min_text_overlap`."""

    enabled: bool = True
    min_similarity: float = 0.95
    min_text_overlap: float = 0.8


@dataclass(frozen=True)
class ArchivePolicy:
    """Archive active, unpromoted memories not accessed (nor changed) for `ttl_days`;
    `ttl_days_by_cube` overrides it per cube."""

    enabled: bool = True
    ttl_days: float = 30.0
    ttl_days_by_cube: Mapping[str, float] = field(default_factory=dict)

    def ttl_ms(self, cube_id: str) -> float:
        return self.ttl_days_by_cube.get(cube_id, self.ttl_days) * DAY_MS


@dataclass(frozen=True)
class SchedulerConfig:
    activation: ActivationPolicy = ActivationPolicy()
    parametric: ParametricPolicy = ParametricPolicy()
    merge: MergePolicy = MergePolicy()
    archive: ArchivePolicy = ArchivePolicy()

    def __post_init__(self) -> None:
        _validate(self)

    def as_dict(self) -> dict:
        return asdict(self)


def _validate(config: SchedulerConfig) -> None:
    a, p, m, r = config.activation, config.parametric, config.merge, config.archive
    checks = [
        ("activation.half_life_hours", a.half_life_hours, lambda v: v > 0, "> 0"),
        ("activation.min_heat", a.min_heat, lambda v: v > 0, "> 0"),
        ("activation.stable_for_hours", a.stable_for_hours, lambda v: v >= 0, ">= 0"),
        ("activation.demote_below", a.demote_below, lambda v: 0 <= v < a.min_heat, "in [0, min_heat)"),
        ("activation.min_promoted_hours", a.min_promoted_hours, lambda v: v >= 0, ">= 0"),
        ("activation.max_memories_per_cube", a.max_memories_per_cube, lambda v: v >= 1, ">= 1"),
        ("activation.displace_ratio", a.displace_ratio, lambda v: v > 1, "> 1"),
        ("parametric.half_life_days", p.half_life_days, lambda v: v > 0, "> 0"),
        ("parametric.min_heat", p.min_heat, lambda v: v > 0, "> 0"),
        ("parametric.hot_for_days", p.hot_for_days, lambda v: v >= 0, ">= 0"),
        ("parametric.demote_below", p.demote_below, lambda v: 0 <= v < p.min_heat, "in [0, min_heat)"),
        ("parametric.min_promoted_days", p.min_promoted_days, lambda v: v >= 0, ">= 0"),
        ("parametric.max_memories_per_cube", p.max_memories_per_cube, lambda v: v >= 1, ">= 1"),
        ("parametric.displace_ratio", p.displace_ratio, lambda v: v > 1, "> 1"),
        ("merge.min_similarity", m.min_similarity, lambda v: 0 < v <= 1, "in (0, 1]"),
        ("merge.min_text_overlap", m.min_text_overlap, lambda v: 0 <= v <= 1, "in [0, 1]"),
        ("archive.ttl_days", r.ttl_days, lambda v: v > 0, "> 0"),
    ]
    checks += [(f"archive.ttl_days_by_cube[{cube!r}]", ttl, lambda v: v > 0, "> 0")
               for cube, ttl in r.ttl_days_by_cube.items()]
    for name, value, in_range, rule in checks:  # type first: a range check on a string would crash
        if not _number(value):
            raise InvalidInput(f"scheduler config: {name} must be a number {rule}, got {value!r}")
    for name, value, in_range, rule in checks:
        try:
            ok = in_range(value)
        except TypeError:  # a bound (e.g. min_heat) is itself not a number; reported by its own check
            ok = False
        if not ok:
            raise InvalidInput(f"scheduler config: {name} must be {rule}, got {value!r}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def load_config(source: Mapping[str, Any] | str | Path | None = None) -> SchedulerConfig:
    """From a mapping like `{"archive": {"ttl_days": 14}}` or a TOML file with the same
    tables; unknown sections or keys are errors (a typo must not silently keep a default)."""
    if source is None:
        return SchedulerConfig()
    if isinstance(source, (str, Path)):
        try:
            source = tomllib.loads(Path(source).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"scheduler config {source}: {exc}") from None
    if not isinstance(source, Mapping):
        raise InvalidInput("scheduler config must be a mapping of policy sections")
    sections = {f.name: f.type for f in fields(SchedulerConfig)}
    defaults = SchedulerConfig()
    built = {}
    for section, values in source.items():
        if section not in sections:
            raise InvalidInput(f"scheduler config: unknown section {section!r} (known: {sorted(sections)})")
        policy = getattr(defaults, section)
        if not isinstance(values, Mapping):
            raise InvalidInput(f"scheduler config: {section} must be a table of settings")
        known = {f.name: f for f in fields(policy)}
        for key, value in values.items():
            if key not in known:
                raise InvalidInput(f"scheduler config: unknown setting {section}.{key}")
            if key == "enabled" and not isinstance(value, bool):
                raise InvalidInput(f"scheduler config: {section}.enabled must be true or false, got {value!r}")
            if key == "ttl_days_by_cube" and not isinstance(value, Mapping):
                raise InvalidInput(f"scheduler config: {section}.{key} must map cube ids to days")
        built[section] = type(policy)(**{**asdict(policy), **values})
    return SchedulerConfig(**built)
