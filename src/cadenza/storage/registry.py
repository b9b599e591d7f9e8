"""Job kinds and the functions that run them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from cadenza.storage.queue import ClaimedJob

JobHandler = Callable[[ClaimedJob], None]


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (bad input): the job fails at once."""


@dataclass
class JobRegistry:
    handlers: dict[str, JobHandler] = field(default_factory=dict)
    # topic -> job kinds enqueued for each outbox fact of that topic
    topic_jobs: dict[str, list[str]] = field(default_factory=dict)
    # kind -> interval of the jobs the worker's maintenance queues by itself (see JobQueue.schedule_recurring)
    recurring: dict[str, dt.timedelta] = field(default_factory=dict)

    def register(self, kind: str, handler: JobHandler) -> None:
        if kind in self.handlers:
            raise ValueError(f"job kind {kind!r} registered twice")
        self.handlers[kind] = handler

    def on_topic(self, topic: str, kind: str) -> None:
        """Every outbox fact of `topic` becomes a job of `kind` (in the relay's transaction)."""
        self.topic_jobs.setdefault(topic, []).append(kind)

    def every(self, kind: str, interval: dt.timedelta) -> None:
        """A registered kind that runs by itself, about once per `interval` (checked hourly by workers)."""
        if kind not in self.handlers:
            raise ValueError(f"job kind {kind!r} has no handler")
        self.recurring[kind] = interval
