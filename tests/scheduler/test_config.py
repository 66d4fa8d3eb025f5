"""Scheduler policy config: sensible defaults, and impossible values rejected at load with
the field named."""

from __future__ import annotations

import pytest

from mos.domain.errors import InvalidInput
from mos.scheduler import SchedulerConfig, load_config


def test_defaults_are_valid_and_documented_values():
    config = load_config()
    assert config == SchedulerConfig()
    assert config.activation.demote_below < config.activation.min_heat
    assert config.archive.ttl_days == 30.0


def test_a_mapping_overrides_only_what_it_names():
    config = load_config({"archive": {"ttl_days": 7, "ttl_days_by_cube": {"scratch": 1}},
                          "merge": {"enabled": False}})
    assert config.archive.ttl_days == 7 and config.archive.ttl_ms("scratch") == 86_400_000
    assert config.merge.enabled is False and config.activation == SchedulerConfig().activation


def test_a_toml_file_loads(tmp_path):
    path = tmp_path / "scheduler.toml"
    path.write_text("[activation]\nmin_heat = 8.0\ndemote_below = 2.0\n\n[parametric]\nhot_for_days = 3\n")
    config = load_config(path)
    assert (config.activation.min_heat, config.parametric.hot_for_days) == (8.0, 3)


@pytest.mark.parametrize("source, field", [
    ({"archive": {"ttl_days": -1}}, "archive.ttl_days"),
    ({"archive": {"ttl_days": 0}}, "archive.ttl_days"),
    ({"archive": {"ttl_days_by_cube": {"c1": -3}}}, "archive.ttl_days_by_cube['c1']"),
    ({"merge": {"min_similarity": 1.5}}, "merge.min_similarity"),
    ({"merge": {"min_text_overlap": -0.1}}, "merge.min_text_overlap"),
    ({"activation": {"min_heat": 2.0, "demote_below": 3.0}}, "activation.demote_below"),
    ({"activation": {"half_life_hours": 0}}, "activation.half_life_hours"),
    ({"parametric": {"max_memories_per_cube": 0}}, "parametric.max_memories_per_cube"),
    ({"parametric": {"min_heat": "lots"}}, "parametric.min_heat"),
    ({"activation": {"enabled": "yes"}}, "activation.enabled"),
    ({"activation": {"min_heats": 3}}, "activation.min_heats"),
    ({"archival": {"ttl_days": 3}}, "archival"),
])
def test_impossible_values_are_rejected_naming_the_field(source, field):
    with pytest.raises(InvalidInput) as error:
        load_config(source)
    assert field in str(error.value)


def test_a_broken_toml_file_is_a_clear_error(tmp_path):
    path = tmp_path / "scheduler.toml"
    path.write_text("[archive\nttl_days = ")
    with pytest.raises(InvalidInput, match="scheduler config"):
        load_config(path)
