"""Projections: pure functions from events to read-model writes, plus the adapters that apply them."""
