"""The worker's read models (Elasticsearch, Neo4j) as the tests open them."""

from __future__ import annotations

from mos.config import PipelineSettings


def make_index(settings: PipelineSettings, suffix: str = "", ephemeral: bool = True):
    """`ephemeral`: the index is deleted on close(), so test and bench runs leave nothing behind."""
    from projections.elasticsearch.search_index import ElasticsearchSearchIndex

    return ElasticsearchSearchIndex(settings.es_url, settings.es_index + suffix, settings.embedding_dimension,
                                    delete_on_close=ephemeral)


def make_graph(settings: PipelineSettings, suffix: str = "", ephemeral: bool = True):
    from projections.neo4j.graph_store import Neo4jGraphStore

    return Neo4jGraphStore(settings.neo4j_uri, namespace=settings.neo4j_namespace + suffix,
                           drop_on_close=ephemeral)
