"""Kafka adapters: the production event log (aiokafka) and the Faust projection app."""
