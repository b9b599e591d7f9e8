"""Settings from the environment (prefix CADENZA_)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CADENZA_", extra="ignore", env_ignore_empty=True)  # VAR= is unset

    database_url: str = "sqlite:///cadenza.db"
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    postal_address: str | None = None
    data_dir: Path = Path(".")
    # Ingest limits, as Segment's HTTP tracking API.
    max_batch_bytes: int = 500 * 1024
    max_event_bytes: int = 32 * 1024
    # PostgreSQL connections per process: keep processes × (pool size + overflow) under max_connections.
    database_pool_size: int = 5
    database_max_overflow: int = 10
    # The worker: how often it looks for due work when idle, how many jobs it claims at once, and how
    # long a claim holds before another worker may take the job over (a crashed worker's jobs resume).
    # An idle worker is also woken as soon as a job is enqueued (LISTEN/NOTIFY on PostgreSQL, in-process on
    # SQLite); the poll is the safety net. Turn wake-ups off to rely on polling alone.
    worker_poll_seconds: float = 1.0
    worker_wakeups: bool = True
    worker_batch_size: int = 50
    job_lease_seconds: float = 300.0
    session_max_age_seconds: int = 14 * 24 * 3600
    # CSV imports: processes that validate rows (None: one per core beyond the first, at most 4; 0: none),
    # and how many days the upload of a failed or abandoned import is kept so it can be resumed.
    import_workers: int | None = None
    import_upload_retention_days: float = 14.0
    secure_cookies: bool = False

    def resolved_secret_key(self) -> str:
        """The configured secret, else one generated on first run and kept beside the data."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / ".cadenza-secret"
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key)
        path.chmod(0o600)
        return key
