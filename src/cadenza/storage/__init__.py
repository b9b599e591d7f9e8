"""Storage: engine, unit of work, base model, job queue, outbox, idempotency keys, migrations."""

from cadenza.storage.base import Base, JSONType, UTCDateTime, id_column
from cadenza.storage.database import Database, JSONText, is_postgres, json_loads

__all__ = ["Base", "Database", "JSONText", "JSONType", "UTCDateTime", "id_column", "is_postgres", "json_loads"]
