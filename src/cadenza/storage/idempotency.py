"""Idempotency keys for POSTs: the first answer is stored and replayed to retries of the same request."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cadenza.core.errors import Conflict
from cadenza.storage.database import Database
from cadenza.storage.models import IdempotencyKey

KEY_LIFETIME = dt.timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self, workspace_id: int, key: str, fingerprint: str, now: dt.datetime) -> StoredResponse | None:
        """Reserves the key. Returns the stored answer when this request was already answered.

        Raises Conflict when the key was used for a different request or the first one is still running.
        """
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        with self.db.transaction() as session:
            session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key,
                IdempotencyKey.created_at < now - KEY_LIFETIME))
            inserted = session.execute(
                insert(IdempotencyKey)
                .values(workspace_id=workspace_id, key=key, request_hash=fingerprint, created_at=now)
                .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
                .returning(IdempotencyKey.id)
            ).first()
            if inserted is not None:
                return None
            row = session.scalar(select(IdempotencyKey).where(
                IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key))
        if row is None or row.request_hash != fingerprint:
            raise Conflict("This Idempotency-Key was already used for a different request.")
        if row.status_code is None:
            raise Conflict("A request with this Idempotency-Key is still being processed.")
        return StoredResponse(row.status_code, row.response_body or "")

    def finish(self, workspace_id: int, key: str, status_code: int, body: str) -> None:
        with self.db.transaction() as session:
            if status_code >= 500:  # let the client retry a failure of ours
                session.execute(delete(IdempotencyKey).where(
                    IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key))
                return
            session.execute(update(IdempotencyKey).where(
                IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key,
            ).values(status_code=status_code, response_body=body))
