"""The HTTP surface: the Segment-compatible ingest API, the REST API and operator endpoints."""

from cadenza.api.app import create_app

__all__ = ["create_app"]
