"""Hybrid retrieval as a composition of signals: BM25, vector kNN, then graph expansion.

1. BM25 and kNN each return `candidates` ids within the caller's filter.
2. Their lists are fused (`fusion.fuse`).
3. The best `graph_seeds` fused hits are expanded one hop in the graph (conversation
   neighbours and merge lineage; optionally memories sharing a rare entity); each neighbour gains
   `graph_weight × seed score`, so context around a strong hit surfaces even when it shares
   no words with the query.

Every stage respects the same SearchFilter, so expansion can never reach a memory outside
the caller's cubes or states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from mos.embedders.port import Embedder
from mos.retrieval.fusion import FusedCandidate, fuse
from mos.retrieval.text_analysis import query_terms
from projections.ports import GraphStore, SearchFilter, SearchIndex


@dataclass(frozen=True)
class RetrievalConfig:
    """A named retrieval recipe; `bench/locomo.py` ablates it one component at a time."""

    use_bm25: bool = True
    use_vector: bool = True
    use_graph: bool = True
    candidates: int = 50
    fusion: str = "minmax"
    weights: Mapping[str, float] = field(default_factory=lambda: {"bm25": 1.0, "vector": 1.0})
    # MENTIONS (shared-entity) expansion is available but off by default: on LoCoMo it cost
    # 0.008 R@5 and ~6 ms per query (bench/locomo.py ablation); conversation neighbours and
    # merge lineage carry the gain.
    graph_edge_kinds: tuple[str, ...] = ("NEXT_IN_SESSION", "MERGED_INTO", "DERIVED_FROM")
    graph_seeds: int = 20
    graph_weight: float = 0.3
    max_entity_degree: int = 25


@dataclass(frozen=True)
class Retrieved:
    memory_id: str
    score: float
    signals: Mapping[str, int]
    expanded_from: tuple[str, ...] = ()


class HybridRetriever:
    def __init__(self, index: SearchIndex, graph: GraphStore, embedder: Embedder,
                 config: RetrievalConfig | None = None):
        self.index = index
        self.graph = graph
        self.embedder = embedder
        self.config = config or RetrievalConfig()

    def retrieve(self, query: str, where: SearchFilter, top_k: int,
                 config: RetrievalConfig | None = None) -> list[Retrieved]:
        cfg = config or self.config
        depth = max(cfg.candidates, top_k)
        signals = {}
        if cfg.use_bm25:
            signals["bm25"] = self.index.bm25(query_terms(query), where, depth)
        if cfg.use_vector:
            vector = self.embedder.embed([query])[0]
            signals["vector"] = self.index.knn(vector.tolist(), where, depth)
        fused = fuse(signals, cfg.weights, cfg.fusion)
        expanded: dict[str, list[str]] = {}
        if cfg.use_graph and fused:
            fused, expanded = self._expand(fused, where, cfg)
        return [Retrieved(c.memory_id, c.score, dict(c.signals), tuple(expanded.get(c.memory_id, ())))
                for c in fused[:top_k]]

    def _expand(self, fused: list[FusedCandidate], where: SearchFilter,
                cfg: RetrievalConfig) -> tuple[list[FusedCandidate], dict[str, list[str]]]:
        seeds = {c.memory_id: c.score for c in fused[:cfg.graph_seeds]}
        neighbours = self.graph.memory_neighbours(list(seeds), cfg.graph_edge_kinds, where.cube_ids,
                                                  where.states, cfg.max_entity_degree)
        boost: dict[str, float] = {}
        via: dict[str, list[str]] = {}
        for n in neighbours:
            if n.memory_id == n.seed_id:
                continue
            gain = cfg.graph_weight * seeds[n.seed_id]
            if gain > boost.get(n.memory_id, 0.0):
                boost[n.memory_id] = gain
            via.setdefault(n.memory_id, []).append(f"{n.seed_id}:{n.edge_kind}")
        if where.tags_all or where.metadata_equals:  # the graph knows cubes/states, not tags
            allowed = {d.memory_id for d in self._filtered(list(boost), where)}
            boost = {m: g for m, g in boost.items() if m in allowed}
        by_id = {c.memory_id: c for c in fused}
        for rank, (memory_id, gain) in enumerate(sorted(boost.items(), key=lambda kv: -kv[1]), start=1):
            candidate = by_id.setdefault(memory_id, FusedCandidate(memory_id))
            candidate.score += gain
            candidate.signals["graph"] = rank
        return sorted(by_id.values(), key=lambda c: (-c.score, c.memory_id)), via

    def _filtered(self, memory_ids: Sequence[str], where: SearchFilter):
        docs = self.index.documents(memory_ids)
        return [d for d in docs.values()
                if d.cube_id in where.cube_ids and d.state in where.states
                and all(t in d.tags for t in where.tags_all)
                and all(d.metadata.get(k) == v for k, v in where.metadata_equals.items())]
