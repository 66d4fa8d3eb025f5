"""Embedders: turn texts into unit-norm float32 vectors (the Embedder port and its adapters)."""

from mos.embedders.port import Embedder

__all__ = ["Embedder"]
