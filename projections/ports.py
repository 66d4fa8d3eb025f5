"""Read-model ports: the search index and the graph store, as small Protocols.

Both are written only by a projection runner, through `apply(writes, next_offset)`, which
must store the writes and the new checkpoint in one atomic step: after a crash the read
model is exactly "every event before checkpoint applied once".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from projections.graph_writes import GraphWrite
from projections.search_writes import SearchWrite


@dataclass(frozen=True)
class SearchFilter:
    """Which documents a query may return. Empty `cube_ids` matches nothing (never everything)."""

    cube_ids: tuple[str, ...]
    states: tuple[str, ...] = ("active",)
    tags_all: tuple[str, ...] = ()
    metadata_equals: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A memory as the search read model holds it."""

    memory_id: str
    cube_id: str
    text: str
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    memory_type: str
    state: str
    version: int
    created_at: int
    updated_at: int
    created_by: str
    last_actor: str
    source_app: str
    created_event_id: str
    last_event_id: str
    derived_from: tuple[str, ...]
    merged_into: str | None
    tiers: tuple[str, ...]


@dataclass(frozen=True)
class ScoredId:
    memory_id: str
    score: float


class Checkpointed(Protocol):
    def checkpoint(self) -> int:
        """Offset of the next event to apply (0 when empty)."""
        ...

    def reset(self) -> None:
        """Drop every document / node and set the checkpoint back to 0."""
        ...

    def snapshot(self) -> Any:
        """A canonical, comparable dump of the whole read model (for replay-equality checks)."""
        ...


@dataclass(frozen=True)
class RankedLists:
    bm25: list[ScoredId]
    knn: list[ScoredId]
    metadata: Mapping[str, Any]  # memory_id -> its metadata value for the asked key, for the hits that have one


def ranked_lists_in_two_reads(index: SearchIndex, terms: Sequence[str], vector: Sequence[float],
                              where: SearchFilter, k: int, metadata_key: str) -> RankedLists:
    """`SearchIndex.ranked_lists` as its two reads, for an index in process."""
    bm25, knn = index.bm25_and_knn(terms, vector, where, k)
    hits = list(dict.fromkeys(s.memory_id for s in (*bm25, *knn)))
    return RankedLists(bm25, knn, index.metadata_values(hits, metadata_key) if hits else {})


class SearchIndex(Checkpointed, Protocol):
    def apply(self, writes: Sequence[SearchWrite], next_offset: int) -> None: ...

    def purge(self, wait_s: float = 0.0) -> bool:
        """Make deletions physical (no deleted document's bytes left in the index files);
        True when done, False if the engine still holds some after `wait_s`."""
        ...

    def bm25(self, terms: Sequence[str], where: SearchFilter, k: int) -> list[ScoredId]:
        """Best-first by BM25 over `terms` (already normalised); higher score is better."""
        ...

    def knn(self, vector: Sequence[float], where: SearchFilter, k: int) -> list[ScoredId]:
        """Best-first by cosine similarity (score in [-1, 1]), exact within the filter."""
        ...

    def bm25_and_knn(self, terms: Sequence[str], vector: Sequence[float], where: SearchFilter,
                     k: int) -> tuple[list[ScoredId], list[ScoredId]]:
        """(`bm25(terms, ...)`, `knn(vector, ...)`), equal to the two calls; a server backend
        answers both in one round trip, which is most of a hybrid query's latency."""
        ...

    def ranked_lists(self, terms: Sequence[str], vector: Sequence[float], where: SearchFilter, k: int,
                     metadata_key: str) -> RankedLists:
        """`bm25_and_knn`, and `metadata_values` of every hit for `metadata_key`, equal to
        `ranked_lists_in_two_reads`: a server backend returns the values with the hits
        (hybrid retrieval reads the speaker of every candidate), one round trip."""
        ...

    def documents(self, memory_ids: Sequence[str]) -> dict[str, Document]: ...

    def metadata_values(self, memory_ids: Sequence[str], key: str) -> dict[str, Any]:
        """memory_id -> metadata[key], for the given memories that exist and have `key`.
        One light read per query for a retrieval feature, where `documents` would decode
        every field of every candidate."""
        ...

    def list_documents(self, where: SearchFilter, limit: int, offset: int) -> list[Document]:
        """Ordered by (created_at, memory_id): the same page on every backend."""
        ...


@dataclass(frozen=True, order=True)
class Neighbour:
    seed_id: str
    memory_id: str
    edge_kind: str


class GraphStore(Checkpointed, Protocol):
    def apply(self, writes: Sequence[GraphWrite], next_offset: int) -> None: ...

    def cube_roles(self, user_id: str) -> dict[str, str]:
        """cube_id -> role for every cube the user can access."""
        ...

    def memory_neighbours(self, memory_ids: Sequence[str], edge_kinds: Sequence[str],
                          cube_ids: Sequence[str], states: Sequence[str],
                          max_entity_degree: int = 25) -> list[Neighbour]:
        """Memories one hop away (via memory-memory edges, or two hops via a shared entity
        mentioned by at most `max_entity_degree` memories), restricted to cubes/states."""
        ...

    def chain_links(self, memory_ids: Sequence[str], edge_kind: str, hops: int,
                    cube_ids: Sequence[str], states: Sequence[str]) -> set[tuple[str, str]]:
        """Every `edge_kind` edge on a path of at most `hops` such edges, followed either way,
        from one of `memory_ids` through memories in cubes/states only — the conversation
        around the seeds, in one read (retrieval's session windows). Each edge once, as the
        sorted pair of its memory ids (`undirected`): the chain is read both ways."""
        ...

    def speakers_named(self, memory_ids: Sequence[str], speaker_keys: Sequence[str]) -> set[str]:
        """Those of `memory_ids` whose speaker's keys (`projections.speakers`) meet
        `speaker_keys`: whose speaker a query naming them names."""
        ...

    def retrieval_context(self, memory_ids: Sequence[str], edge_kinds: Sequence[str],
                          cube_ids: Sequence[str], states: Sequence[str], max_entity_degree: int,
                          chain_kind: str, chain_hops: int, speaker_keys: Sequence[str] = ()) -> GraphContext:
        """`memory_neighbours` of `memory_ids`, `chain_links` from `memory_ids` and those
        neighbours (none when `chain_hops` < 1), and which neighbours `speakers_named` gives
        for `speaker_keys` — equal to `context_in_two_reads`, in one read: a search on a
        server backend pays one round trip to the graph, not three."""
        ...


@dataclass(frozen=True)
class GraphContext:
    """The graph side of one hybrid search: the seeds' neighbours and the session chain
    around the seeds and those neighbours.

    The neighbours are kept sorted: a store lists them in no order of its own (Neo4j's
    follows its record ids, which a busy database reuses), and two reads of one graph, or
    the same graph on two backends, must give equal contexts."""

    neighbours: tuple[Neighbour, ...]
    chain: frozenset[tuple[str, str]]
    speakers_named: frozenset[str] = frozenset()  # neighbours whose speaker the query names

    def __post_init__(self) -> None:
        object.__setattr__(self, "neighbours", tuple(sorted(self.neighbours)))


def context_in_two_reads(graph: GraphStore, memory_ids: Sequence[str], edge_kinds: Sequence[str],
                         cube_ids: Sequence[str], states: Sequence[str], max_entity_degree: int,
                         chain_kind: str, chain_hops: int, speaker_keys: Sequence[str] = ()) -> GraphContext:
    """`GraphStore.retrieval_context` as its separate reads, for a store where a read costs
    no round trip (the embedded one)."""
    neighbours = tuple(graph.memory_neighbours(memory_ids, edge_kinds, cube_ids, states, max_entity_degree))
    named = frozenset(graph.speakers_named(sorted({n.memory_id for n in neighbours}), speaker_keys))
    if chain_hops < 1 or not memory_ids:
        return GraphContext(neighbours, frozenset(), named)
    around = list(dict.fromkeys([*memory_ids, *(n.memory_id for n in neighbours)]))
    return GraphContext(neighbours, frozenset(graph.chain_links(around, chain_kind, chain_hops, cube_ids, states)),
                        named)


def undirected(a: str, b: str) -> tuple[str, str]:
    """An edge as a direction-free link: its two ids, sorted."""
    return (a, b) if a <= b else (b, a)
