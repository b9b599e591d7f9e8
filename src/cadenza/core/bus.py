"""In-process publish/subscribe for facts that happened (after their transaction committed)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


@dataclass
class EventBus:
    _handlers: dict[str, list[Handler]] = field(default_factory=lambda: defaultdict(list))

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def publish_unsafe(self, topic: str, payload: dict[str, Any]) -> None:
        """Deliver to in-process subscribers. Call only after the transaction committed."""
        for handler in self._handlers.get(topic, []):
            try:
                handler(payload)
            except Exception:  # a subscriber's failure must not undo a committed fact
                log.exception("subscriber of %s failed", topic)
