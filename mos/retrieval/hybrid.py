"""Hybrid retrieval as a composition of signals: BM25, vector kNN, conversational context
from the graph, and the speaker asked about — fused by learned weights.

1. BM25 and kNN each return `candidates` ids within the caller's filter; each list's scores
   are min-max normalised (`features.normalised`).
2. The graph gives every candidate's neighbours (conversation order, merge lineage;
   optionally memories sharing a rare entity). Neighbours join the candidates — context
   around a strong hit surfaces even when it shares no words with the query — and each
   candidate gets its neighbours' best scores as context features.
3. Each candidate's session window (memories up to `window_radius` NEXT_IN_SESSION hops
   away) is scored as a whole (`session_window`), from the same two engine lists fetched
   `window_depth` deep: the words of a question spread over neighbouring turns match there.
4. Candidates whose speaker (metadata `speaker_key`) the query names get the speaker feature.
5. `fusion="learned"` scores a candidate by the shipped linear weights over the features
   (`learned_weights`); "minmax" and "rrf" fuse only BM25 and kNN, for comparison.

Every stage respects the same SearchFilter, so expansion can never reach a memory outside
the caller's cubes, states, tags or metadata.

On a server backend a query costs the engines one round trip (both lists, with the hits'
speakers: `SearchIndex.ranked_lists`) and the graph one (neighbours, chain, and which
neighbours' speakers the query names: `GraphStore.retrieval_context`, from the hashed speaker
keys of `projections.speakers`). Only with another `speaker_key` than the one the graph
projects are the speakers of neighbours outside both lists read from the index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from mos.embedders.port import Embedder
from mos.retrieval.features import FEATURES, candidate_features, normalised
from mos.retrieval.fusion import fuse, linear
from mos.retrieval.learned_weights import shipped_weights
from mos.retrieval.query_analysis import QueryAnalysis, analyse_query, names_speaker
from mos.retrieval.session_window import chain_windows, window_scores
from projections.ports import Document, GraphContext, GraphStore, ScoredId, SearchFilter, SearchIndex
from projections.speakers import SPEAKER_KEY, query_speaker_keys

_CONTEXT_BM25, _CONTEXT_VECTOR = FEATURES.index("context_bm25"), FEATURES.index("context_vector")
_SPEAKER = FEATURES.index("speaker")
_CHAIN = "NEXT_IN_SESSION"


@dataclass(frozen=True)
class RetrievalConfig:
    """A named retrieval recipe; `bench/locomo.py` ablates it one component at a time."""

    use_bm25: bool = True
    use_vector: bool = True
    use_graph: bool = True  # neighbours join the candidates and give the context features
    use_context: bool = True  # the context features (off: neighbours still join, scored 0 there)
    use_speaker: bool = True
    use_window: bool = True  # the session-window features
    # How many of each engine list's best become candidates (and graph seeds), and how deep
    # each list is read for window members' scores. 30 / 50 rather than 50 / 100: on LoCoMo
    # R@5 / R@10 0.710 / 0.796 vs 0.715 / 0.797 (bench/locomo.py, 2026-12-04; every pair
    # tried from 20 to 50 candidates and 40 to 100 deep lay within ±0.007), while at 1M
    # memories on ES + Neo4j a search takes ~30% less (~80 graph seeds become ~50, and a kNN
    # list 50 deep explores the 100 candidates a top 10 does).
    candidates: int = 30
    window_radius: int = 3  # NEXT_IN_SESSION hops on either side
    window_depth: int = 50
    fusion: str = "learned"  # "learned" | "minmax" | "rrf"
    weights: Mapping[str, float] = field(default_factory=shipped_weights)
    # MENTIONS (shared-entity) expansion is available but off by default: measured in
    # bench/locomo.py's ablation ("+ entity links").
    graph_edge_kinds: tuple[str, ...] = ("NEXT_IN_SESSION", "MERGED_INTO", "DERIVED_FROM")
    max_entity_degree: int = 25
    speaker_key: str = "speaker"


@dataclass(frozen=True)
class Retrieved:
    memory_id: str
    score: float
    signals: Mapping[str, int]
    expanded_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidates:
    """What fusion sees for one query: feature rows (FEATURES order) per candidate, each
    signal's 1-based ranks, and which neighbour edges brought a memory in."""

    rows: Mapping[str, tuple[float, ...]]
    ranks: Mapping[str, Mapping[str, int]]
    via: Mapping[str, tuple[str, ...]]
    raw: Mapping[str, Sequence[ScoredId]]


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
        found = self._candidates(query, where, top_k, cfg, speakers_for_top_k_only=True)
        if cfg.fusion == "learned":
            weights = [cfg.weights.get(name, 0.0) for name in FEATURES]
            ranked = linear(found.rows, weights)
        else:
            ranked = [(c.memory_id, c.score) for c in fuse(found.raw, {}, cfg.fusion)]
        out = []
        for memory_id, score in ranked[:top_k]:
            signals = {name: ranks[memory_id] for name, ranks in found.ranks.items() if memory_id in ranks}
            out.append(Retrieved(memory_id, score, signals, found.via.get(memory_id, ())))
        return out

    def candidates(self, query: str, where: SearchFilter, top_k: int,
                   config: RetrievalConfig | None = None) -> Candidates:
        """Every candidate with its features (also what bench/train_fusion.py learns from)."""
        return self._candidates(query, where, top_k, config or self.config, speakers_for_top_k_only=False)

    def _candidates(self, query: str, where: SearchFilter, top_k: int, cfg: RetrievalConfig, *,
                    speakers_for_top_k_only: bool) -> Candidates:
        """With `speakers_for_top_k_only`, a neighbour's speaker is read only if it can change
        the top `top_k` (`_may_reach_top`): the rows of the others may lack their speaker
        feature, while the top `top_k`, their order and their scores are exact."""
        analysis = analyse_query(query)
        depth = max(cfg.candidates, top_k)
        deep = max(depth, cfg.window_depth) if cfg.use_window else depth
        full: dict[str, list[ScoredId]] = {}
        vector = self.embedder.embed([query])[0].tolist() if cfg.use_vector else None
        wants_speaker = cfg.use_speaker and bool(analysis.names)
        speakers: dict[str, Any] = {}  # memory_id -> metadata[speaker_key], once read
        speakers_read: set[str] = set()  # whose speaker was read (a memory may have none)
        if cfg.use_bm25 and cfg.use_vector and wants_speaker:  # one round trip on a server backend
            lists = self.index.ranked_lists(list(analysis.terms), vector, where, deep, cfg.speaker_key)
            full["bm25"], full["vector"], speakers = lists.bm25, lists.knn, dict(lists.metadata)
            speakers_read = {s.memory_id for ranked in full.values() for s in ranked}
        elif cfg.use_bm25 and cfg.use_vector:
            full["bm25"], full["vector"] = self.index.bm25_and_knn(list(analysis.terms), vector, where, deep)
        elif cfg.use_bm25:
            full["bm25"] = self.index.bm25(list(analysis.terms), where, deep)
        elif cfg.use_vector:
            full["vector"] = self.index.knn(vector, where, deep)
        raw = {name: ranked[:depth] for name, ranked in full.items()}
        ranks = {name: {s.memory_id: rank for rank, s in enumerate(ranked, start=1)} for name, ranked in raw.items()}
        direct = list(dict.fromkeys(s.memory_id for ranked in raw.values() for s in ranked))
        neighbours: dict[str, list[str]] = {}
        via: dict[str, list[str]] = {}
        windows = cfg.use_window and cfg.use_graph and _CHAIN in cfg.graph_edge_kinds
        graph = GraphContext((), frozenset())
        # The graph knows the speakers of metadata `SPEAKER_KEY` (hashed): then the neighbours'
        # come with them, and no neighbour's speaker is read from the index.
        graph_speakers = wants_speaker and cfg.speaker_key == SPEAKER_KEY
        if cfg.use_graph and direct:  # one read: the neighbours, the chain for the session windows, speakers
            keys = query_speaker_keys(where.cube_ids, analysis.names) if graph_speakers else ()
            graph = self.graph.retrieval_context(direct, cfg.graph_edge_kinds, where.cube_ids, where.states,
                                                 cfg.max_entity_degree, _CHAIN, cfg.window_radius if windows else 0,
                                                 keys)
            for n in graph.neighbours:
                if n.memory_id == n.seed_id:
                    continue
                neighbours.setdefault(n.seed_id, []).append(n.memory_id)
                neighbours.setdefault(n.memory_id, []).append(n.seed_id)
                via.setdefault(n.memory_id, []).append(f"{n.seed_id}:{n.edge_kind}")
        added = [m for m in dict.fromkeys(neighbours) if m not in ranks.get("bm25", {}) and
                 m not in ranks.get("vector", {})]
        narrower = bool(where.tags_all or where.metadata_equals)  # than the graph's cubes and states
        docs = self.index.documents(added) if added and narrower else {}
        allowed = set(direct) | {m for m in added if not narrower or (m in docs and _passes(docs[m], where))}
        signals = {name: normalised(ranked) for name, ranked in raw.items()}
        context = {m: [n for n in ns if n in allowed] for m, ns in neighbours.items()} if cfg.use_context else {}
        members = [m for m in direct + added if m in allowed]
        if windows and members:
            signals.update(_window_signals(graph.chain, members, full, cfg.window_radius))
        named = _named(speakers, analysis)
        if graph_speakers:  # the engines' own answer first: the two read models may lag apart
            named |= graph.speakers_named - speakers_read
        rows = candidate_features(signals, context, named, members)
        unread = [m for m in members if m not in speakers_read] if wants_speaker and not graph_speakers else []
        if unread and speakers_for_top_k_only:
            unread = _may_reach_top(rows, unread, cfg, top_k)
        if unread:  # one more round trip, for neighbours outside both engine lists
            for m in _named(self.index.metadata_values(unread, cfg.speaker_key), analysis):
                rows[m] = rows[m][:_SPEAKER] + (1.0,) + rows[m][_SPEAKER + 1:]
        context_of = {m: rows[m][_CONTEXT_BM25] + rows[m][_CONTEXT_VECTOR] for m in members}
        lifted = sorted((m for m in members if context_of[m] > 0), key=lambda m: -context_of[m])
        if lifted:  # the graph signal: memories whose neighbours matched, best context first
            ranks["graph"] = {m: rank for rank, m in enumerate(lifted, start=1)}
        # sorted: the graph stores list neighbours in no set order, and a hit's `expanded_from`
        # should read the same on every backend
        return Candidates(rows, ranks, {m: tuple(sorted(v)) for m, v in via.items() if m in allowed}, raw)


def _named(speakers: Mapping[str, Any], analysis: QueryAnalysis) -> set[str]:
    """The memories whose speaker the query names."""
    return {m for m, who in speakers.items() if isinstance(who, str) and names_speaker(analysis, who)}


def _may_reach_top(rows: Mapping[str, tuple[float, ...]], unread: list[str], cfg: RetrievalConfig,
                   top_k: int) -> list[str]:
    """The `unread` candidates whose speaker can change the top `top_k`. A speaker only adds
    its weight w, so the k-th best score known now is a floor for the final one, and a
    candidate below that floor by more than w stays out whatever its speaker (its row then
    keeps speaker 0). Every candidate that ends in the top `top_k` is returned, so its score
    is exact. The other fusions do not use the speaker: none is needed."""
    weight = cfg.weights.get("speaker", 0.0)
    if cfg.fusion != "learned" or weight <= 0 or top_k <= 0:
        return []
    if len(rows) <= top_k:
        return unread
    ranked = linear(rows, [cfg.weights.get(name, 0.0) for name in FEATURES])  # best first
    floor, scores = ranked[top_k - 1][1], dict(ranked)
    return [m for m in unread if scores[m] + weight >= floor - 1e-9]  # a tie may win on its id


def _window_signals(chain: Iterable[tuple[str, str]], members: list[str], full: Mapping[str, Sequence[ScoredId]],
                    radius: int) -> dict:
    """The session-window features of `members`, from the chain read around the seeds and
    their neighbours (`GraphStore.retrieval_context`): a superset of the chain around the
    members, which gives each member the same window, since a window is walked from its
    member. A window member outside the caller's filter is never in the engines' lists, so
    it only ever counts as a non-match."""
    windows = chain_windows(sorted(chain), members, radius)
    out = {}
    if "bm25" in full:
        out["window_bm25"] = window_scores({s.memory_id: s.score for s in full["bm25"]}, windows, members, "sum")
    if full.get("vector"):
        lowest = min(s.score for s in full["vector"])
        out["window_vector"] = window_scores({s.memory_id: s.score for s in full["vector"]}, windows, members,
                                             "mean", floor=lowest)
    return out


def _passes(doc: Document, where: SearchFilter) -> bool:
    """The graph knows cubes and states, not tags or metadata: check neighbours here."""
    return (doc.cube_id in where.cube_ids and doc.state in where.states
            and all(t in doc.tags for t in where.tags_all)
            and all(doc.metadata.get(k) == v for k, v in where.metadata_equals.items()))
