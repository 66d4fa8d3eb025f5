"""The Cypher the Neo4j graph store runs, kept apart from the adapter's Python.

Model (one Neo4j database, shared by any number of graphs told apart by `namespace`):
- `(:MosNode:<Kind> {namespace, node_id, kind, cube_id, state, name, speaker_keys})` — one
  per graph node;
  a node only referenced by an edge exists as a *stub* (`:MosNode` without `kind`), the way
  the SQLite adapter keeps edges whose endpoints were never upserted;
- `(a)-[:<EDGE_KIND> {role}]->(b)` — one relationship per (kind, source, target);
- `(:MosSessionTail {namespace, session_key, node_id})` — the tail of each session;
- `(:MosCheckpoint {namespace, next_offset})` — the projection's checkpoint.

Community edition has no node key constraints, but composite uniqueness constraints work,
so (namespace, node_id) is unique and every lookup is an index seek.
"""

from __future__ import annotations

SCHEMA = (
    "CREATE CONSTRAINT mos_node_id IF NOT EXISTS FOR (n:MosNode) REQUIRE (n.namespace, n.node_id) IS UNIQUE",
    ("CREATE CONSTRAINT mos_session_tail IF NOT EXISTS FOR (t:MosSessionTail) "
     "REQUIRE (t.namespace, t.session_key) IS UNIQUE"),
    "CREATE CONSTRAINT mos_checkpoint IF NOT EXISTS FOR (c:MosCheckpoint) REQUIRE c.namespace IS UNIQUE",
)

CHECKPOINT = "MATCH (c:MosCheckpoint {namespace: $ns}) RETURN c.next_offset AS next_offset"

# Taking the checkpoint node's write lock first serialises concurrent appliers of one graph,
# so the expected-checkpoint check and the writes are atomic together.
LOCK_CHECKPOINT = """
MERGE (c:MosCheckpoint {namespace: $ns})
ON CREATE SET c.next_offset = 0
SET c._lock = true
REMOVE c._lock
RETURN c.next_offset AS next_offset
"""

SET_CHECKPOINT = "MATCH (c:MosCheckpoint {namespace: $ns}) SET c.next_offset = $next_offset, c.layout = $layout"

# The layout a graph was projected with (`graph_store.LAYOUT`), kept on its checkpoint.
CHECKPOINT_LAYOUT = "MATCH (c:MosCheckpoint {namespace: $ns}) RETURN c.layout AS layout"
DELETE_CHECKPOINT = "MATCH (c:MosCheckpoint {namespace: $ns}) DELETE c"

# One statement per write type. Each runs its rows through a CALL subquery, which finishes
# one row before the next enters it, so each write sees the effects of every write before it.
# The adapter sends a batch as a sequence of these (see `phases` in graph_store.py): far
# cheaper for Neo4j to plan and run than one statement that tests every row against every
# type (that took ~10 ms per memory).
_BODIES = {
    "UpsertNode": """
    MERGE (n:MosNode {namespace: $ns, node_id: op.node_id})
    WITH op, n, n.kind AS old
    FOREACH (label IN CASE WHEN old IS NOT NULL AND old <> op.kind AND old <> 'MosNode' THEN [old] ELSE [] END |
      REMOVE n:$(label))
    SET n:$(op.kind), n.kind = op.kind, n.cube_id = coalesce(op.cube_id, n.cube_id),
        n.state = coalesce(op.state, n.state), n.name = coalesce(op.name, n.name),
        n.speaker_keys = CASE WHEN op.speaker_keys = [] THEN null ELSE op.speaker_keys END
""",
    "SetNodeState": """
    MATCH (n:MosNode {namespace: $ns, node_id: op.node_id}) WHERE n.kind IS NOT NULL
    SET n.state = op.state
""",
    "UpsertEdge": """
    MERGE (a:MosNode {namespace: $ns, node_id: op.source})
    MERGE (b:MosNode {namespace: $ns, node_id: op.target})
    // `(a)-[r]->(b)` with a dynamic type was planned as a scan of ALL relationships (on a
    // small store); `c = b` keeps it an expansion from `a`.
    WITH op, a, b, [(a)-[r]->(c) WHERE c = b AND type(r) = op.kind | r] AS existing
    FOREACH (r IN existing | SET r.role = op.role)
    FOREACH (_ IN CASE WHEN existing = [] THEN [1] ELSE [] END | CREATE (a)-[:$(op.kind) {role: op.role}]->(b))
""",
    "RemoveEdges": """
    MATCH (:MosNode {namespace: $ns, node_id: op.source})-[r:$(op.kind)]->(b)
    WHERE op.target IS NULL OR b.node_id = op.target
    DELETE r
""",
    "AppendToSession": """
    MERGE (n:MosNode {namespace: $ns, node_id: op.node_id})
    WITH op, n WHERE n.session_key IS NULL
    MERGE (t:MosSessionTail {namespace: $ns, session_key: op.session_key})
    WITH op, n, t, t.node_id AS previous
    SET t.node_id = op.node_id, n.session_key = op.session_key
    WITH op, n, previous WHERE previous IS NOT NULL AND previous <> op.node_id
    MATCH (p:MosNode {namespace: $ns, node_id: previous})
    MERGE (p)-[:NEXT_IN_SESSION]->(n)
""",
    "EraseNode": """
    // An erased memory: close the session chain over it, step the tail back, delete the
    // node with its edges, then every entity nothing else mentions.
    MATCH (n:MosNode {namespace: $ns, node_id: op.node_id})
    OPTIONAL MATCH (p)-[:NEXT_IN_SESSION]->(n)
    OPTIONAL MATCH (n)-[:NEXT_IN_SESSION]->(f)
    FOREACH (_ IN CASE WHEN p IS NOT NULL AND f IS NOT NULL THEN [1] ELSE [] END |
      MERGE (p)-[:NEXT_IN_SESSION]->(f))
    WITH n, p
    OPTIONAL MATCH (t:MosSessionTail {namespace: $ns, node_id: n.node_id})
    FOREACH (_ IN CASE WHEN t IS NOT NULL AND p IS NOT NULL THEN [1] ELSE [] END | SET t.node_id = p.node_id)
    FOREACH (_ IN CASE WHEN t IS NOT NULL AND p IS NULL THEN [1] ELSE [] END | DELETE t)
    WITH n, [(n)-[:MENTIONS]->(e) | e] AS mentioned
    DETACH DELETE n
    WITH mentioned
    UNWIND mentioned AS e
    WITH e WHERE NOT EXISTS { (e)<-[:MENTIONS]-() }
    DETACH DELETE e
""",
}

APPLY = {kind: f"UNWIND $ops AS op\nCALL (op) {{\n{body}}}" for kind, body in _BODIES.items()}


def _seeds_in(ids: str) -> str:
    return f"MATCH (s:MosNode) WHERE s.namespace = $ns AND s.node_id IN {ids}\n"


# A search's reads start from ~80 seeds, and one index seek of them costs ~1.3 ms in the
# server at 1M memories: each read finds them once, as the list `seed_nodes`, and every part
# of it starts from that list (see `retrieval_context_on_the_chain` for what was measured).
_SEED_NODES = _seeds_in("$seeds") + "WITH collect(s) AS seed_nodes\n"
_FROM_SEEDS = "UNWIND seed_nodes AS s\n"


def _in_scope(node: str) -> str:
    """The caller's filter as the graph knows it, on the node variable `node`."""
    return f"{node}.cube_id IN $cubes AND {node}.state IN $states"


_IN_SCOPE = _in_scope("n")

NEIGHBOURS_OUT = _FROM_SEEDS + (
    "MATCH (s)-[r]->(n) WHERE type(r) IN $kinds AND " + _IN_SCOPE +
    "\nRETURN s.node_id AS seed, n AS other, type(r) AS kind")
NEIGHBOURS_IN = _FROM_SEEDS + (
    "MATCH (s)<-[r]-(n) WHERE type(r) IN $kinds AND " + _IN_SCOPE +
    "\nRETURN s.node_id AS seed, n AS other, type(r) AS kind")
# Two hops through an entity, only if at most $max_degree memories mention it: a common
# entity ("python", "today") would link everything to everything.
NEIGHBOURS_VIA_ENTITY = _FROM_SEEDS + (
    "MATCH (s)-[:MENTIONS]->(e) WHERE COUNT { (e)<-[:MENTIONS]-() } <= $max_degree\n"
    "MATCH (e)<-[:MENTIONS]-(n) WHERE n <> s AND " + _IN_SCOPE +
    "\nRETURN s.node_id AS seed, n AS other, 'MENTIONS' AS kind")

_ROW_COLUMNS = ("collect(seed) AS row_seeds, collect(other.node_id) AS row_others, collect(kind) AS row_kinds, "
                "collect(other) AS other_nodes")


def _neighbour_rows(parts: list[str]) -> str:
    """After `_SEED_NODES`: the union of `parts` (each returning seed, other, kind) as lists
    in one record. The Python driver decodes each record as its own Bolt message, so the
    ~200-500 rows of a search's neighbourhood cost more to receive as rows than to compute;
    and they are given column by column (no list object per row to decode). `other_nodes`
    stays in the server, for the chain walks."""
    if not parts:
        return "WITH seed_nodes, [] AS row_seeds, [] AS row_others, [] AS row_kinds, [] AS other_nodes\n"
    return _collected(parts, "seed_nodes", f"RETURN {_ROW_COLUMNS}")


def _collected(parts: list[str], imported: str, aggregation: str) -> str:
    """A subquery (importing `imported`) that aggregates the union of `parts` into one row."""
    union = "\nUNION ALL\n".join(parts)
    return f"CALL ({imported}) {{\nCALL ({imported}) {{\n{union}\n}}\n{aggregation}\n}}\n"


def neighbours(parts: list[str]) -> str:
    """The neighbours of `$seeds` that `parts` find, in one record (see `_neighbour_rows`)."""
    return _SEED_NODES + _neighbour_rows(parts) + "RETURN row_seeds, row_others, row_kinds"


def _checked_chain(edge_kind: str, hops: int) -> None:
    """Cypher takes neither a relationship type nor a path length as a parameter, so both
    are checked before they are written into a query."""
    if not edge_kind.isidentifier() or not isinstance(hops, int) or hops < 1:
        raise ValueError(f"bad chain: {edge_kind!r} × {hops!r}")


def _walks(edge_kind: str, hops: int, starts: str) -> str:
    """Paths of 1..`hops` `edge_kind` relationships from each node of the list `starts`,
    every node after the start in scope, as `p`."""
    return (f"UNWIND {starts} AS s\nMATCH p = (s)-[:{edge_kind}*1..{hops}]-(n)\n"
            f"WHERE all(x IN nodes(p)[1..] WHERE {_in_scope('x')})\nRETURN p")


def _named(node: str) -> str:
    """The query's names (`$speaker_keys`) name the speaker of `node` (null: no speaker)."""
    return f"any(k IN {node}.speaker_keys WHERE k IN $speaker_keys)"


def _links_of(walks: list[str], imported: str, named: bool = False) -> str:
    """Every relationship on the paths of `walks` once, as two lists (starts and ends) in
    one record; `imported` are the variables the walks start from. With `named`, also the
    link ends whose speaker the query names, as `link_named`."""
    also = (f",\ncollect(CASE WHEN {_named('a')} THEN a.node_id END) + "
            f"collect(CASE WHEN {_named('b')} THEN b.node_id END) AS link_named") if named else ""
    return _collected(walks, imported, "UNWIND relationships(p) AS r\nWITH DISTINCT r\n"
                      "WITH startNode(r) AS a, endNode(r) AS b\n"
                      f"RETURN collect(a.node_id) AS link_starts, collect(b.node_id) AS link_ends{also}")


def chain_links(edge_kind: str, hops: int) -> str:
    """Every `edge_kind` relationship on a path of 1..`hops` of them from a seed, each node
    after the seed in scope, in one record."""
    _checked_chain(edge_kind, hops)
    return (_SEED_NODES + _links_of([_walks(edge_kind, hops, "seed_nodes")], "seed_nodes")
            + "RETURN link_starts, link_ends")


def _others_named(named: bool) -> str:
    return f",\n[x IN other_nodes WHERE {_named('x')} | x.node_id] AS others_named" if named else ""


def retrieval_context(parts: list[str], chain_kind: str, chain_hops: int, named: bool = False) -> str:
    """The neighbours `parts` find, then the `chain_links` from the seeds and every
    neighbour found: one query, one round trip. With `named`, also the neighbours whose
    speaker the query's names name (`others_named`)."""
    head = _SEED_NODES + _neighbour_rows(parts)
    if chain_hops < 1:
        return (head + "RETURN row_seeds, row_others, row_kinds, [] AS link_starts, [] AS link_ends"
                + _others_named(named))
    _checked_chain(chain_kind, chain_hops)
    walks = [_walks(chain_kind, chain_hops, "seed_nodes + other_nodes")]
    return (head + _links_of(walks, "seed_nodes, other_nodes")
            + "RETURN row_seeds, row_others, row_kinds, link_starts, link_ends" + _others_named(named))


def retrieval_context_on_the_chain(parts: list[str], chain_kind: str, chain_hops: int, named: bool = False) -> str:
    """`retrieval_context` when the neighbours asked for include the seeds' `chain_kind`
    edges, with less work: `parts` are the neighbour queries of the other kinds only.

    - The seeds' chain neighbours are not queried: they are the links at the seeds' ends
      whose other end is in scope, and those links are all read anyway. Every link end is in
      scope but a seed's (a walk's start), so the query also names the seeds out of scope.
    - The chain is walked from the seeds one hop further instead of also from their chain
      neighbours. The links are the same: a path of `chain_hops` from such a neighbour is
      either part of a path of `chain_hops` + 1 from its seed, through it, or lies within the
      seed's own `chain_hops`; and a path of `chain_hops` + 1 from a seed passes through one
      of its in-scope chain neighbours first.
    - With `named`, the link ends whose speaker the query names come too (`link_named`): the
      seeds' chain neighbours are among them.
    At 1M memories with ~80 seeds, ~240 walks become ~80 plus the few other neighbours', and
    there is no neighbour query for the chain: mean server time over 60 searches 6.7 ms for
    the query before this and `_SEED_NODES`, 4.6 ms with both."""
    _checked_chain(chain_kind, chain_hops)
    walks = [_walks(chain_kind, chain_hops + 1, "seed_nodes"), _walks(chain_kind, chain_hops, "other_nodes")]
    return (_SEED_NODES + _neighbour_rows(parts) + _links_of(walks, "seed_nodes, other_nodes", named)
            + "RETURN row_seeds, row_others, row_kinds, link_starts, link_ends,\n"
            f"[s IN seed_nodes WHERE NOT coalesce({_in_scope('s')}, false) | s.node_id] AS seeds_out_of_scope"
            + (",\nlink_named" if named else "") + _others_named(named))


SPEAKERS_NAMED = (_seeds_in("$seeds") + f"WITH s WHERE {_named('s')}\n"
                  "RETURN collect(s.node_id) AS named")


CUBE_ROLES = """
MATCH (:MosNode {namespace: $ns, node_id: $user})-[r:HAS_ROLE]->(c:MosNode)
WHERE c.kind IS NOT NULL
RETURN c.cube_id AS cube_id, r.role AS role
"""

SNAPSHOT_NODES = """
MATCH (n:MosNode {namespace: $ns}) WHERE n.kind IS NOT NULL
RETURN n.node_id AS node_id, n.kind AS kind, n.cube_id AS cube_id, n.state AS state, n.name AS name,
       coalesce(n.speaker_keys, []) AS speaker_keys
"""
SNAPSHOT_EDGES = """
MATCH (a:MosNode {namespace: $ns})-[r]->(b)
RETURN type(r) AS kind, a.node_id AS source, b.node_id AS target, coalesce(r.role, '') AS role
"""
SNAPSHOT_TAILS = """
MATCH (t:MosSessionTail {namespace: $ns}) RETURN t.session_key AS session_key, t.node_id AS node_id
"""

# Deleted in chunks, each its own transaction, so dropping a large graph stays in memory.
DROP_NAMESPACE = """
MATCH (n) WHERE (n:MosNode OR n:MosSessionTail OR n:MosCheckpoint) AND n.namespace = $ns
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS
"""
