"""Segment-compatible event ingestion and the event store."""
