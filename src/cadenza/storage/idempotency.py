"""Idempotency keys for POSTs: the first answer is stored and replayed to retries of the same request.

Keys belong to a workspace (two workspaces may use the same key string) and live 24 hours. A key is
reserved before the request runs, so a concurrent retry gets a 409 instead of running twice; a reservation
whose request never finished (the process died) is given up after a few minutes. Answers of 5xx are not
stored, so the client can retry a failure of ours with the same key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update

from cadenza.core.errors import Conflict
from cadenza.storage.database import Database
from cadenza.storage.dialect import insert_ignoring_conflicts
from cadenza.storage.models import IdempotencyKey

KEY_LIFETIME = dt.timedelta(hours=24)
ABANDONED_AFTER = dt.timedelta(minutes=5)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str
    content_type: str | None = None


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self, workspace_id: int, key: str, fingerprint: str, now: dt.datetime) -> StoredResponse | None:
        """Reserves the key. Returns the stored answer when this request was already answered.

        Raises Conflict when the key was used for a different request or the first one is still running.
        """
        with self.db.transaction() as session:
            session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key,
                or_(IdempotencyKey.created_at < now - KEY_LIFETIME,
                    and_(IdempotencyKey.status_code.is_(None), IdempotencyKey.created_at < now - ABANDONED_AFTER))))
            inserted = session.execute(
                insert_ignoring_conflicts(session, IdempotencyKey, ["workspace_id", "key"])
                .values(workspace_id=workspace_id, key=key, request_hash=fingerprint, created_at=now)
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
        return StoredResponse(row.status_code, row.response_body or "", row.response_content_type)

    def finish(self, workspace_id: int, key: str, status_code: int, body: str,
               content_type: str | None = None) -> None:
        with self.db.transaction() as session:
            if status_code >= 500:  # let the client retry a failure of ours
                session.execute(delete(IdempotencyKey).where(
                    IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key))
                return
            session.execute(update(IdempotencyKey).where(
                IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key,
            ).values(status_code=status_code, response_body=body, response_content_type=content_type))

    def prune(self, now: dt.datetime) -> int:
        """Deletes keys older than their lifetime."""
        with self.db.transaction() as session:
            result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEY_LIFETIME))
            return int(result.rowcount)  # type: ignore[attr-defined]
