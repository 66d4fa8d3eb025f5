"""Elasticsearch adapter of the SearchIndex port (the server-backed twin of projections.embedded)."""
