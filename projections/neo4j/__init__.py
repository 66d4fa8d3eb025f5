"""Neo4j adapters of the read-model ports (the graph store)."""

from projections.neo4j.graph_store import Neo4jGraphStore

__all__ = ["Neo4jGraphStore"]
