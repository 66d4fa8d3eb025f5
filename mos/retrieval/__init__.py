"""Hybrid retrieval: BM25 + vector kNN + graph expansion, fused."""
