"""Embedded read-model adapters (SQLite files in the data directory)."""
