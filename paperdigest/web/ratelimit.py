"""Sliding-window rate limits in memory (per process: run the web app as one process, as
``paperdigest web`` does). Subscribing is limited per address (so nobody can flood an inbox
with confirmation emails) and per client (so nobody can flood everyone's)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class RateLimit:
    """At most ``limit`` events per key within ``window``; ``hit`` records one if allowed."""

    limit: int
    window: timedelta
    max_keys: int = 100_000  # beyond this, the oldest keys are forgotten (bounded memory)
    _events: dict[str, deque[datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, key: str, now: datetime) -> bool:
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._events.pop(next(iter(self._events)))
                events = self._events[key] = deque()
            while events and now - events[0] >= self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def retry_after(self, key: str, now: datetime) -> int:
        """Seconds until ``key`` may try again (0 if it may now)."""
        with self._lock:
            events = self._events.get(key)
            if not events or len(events) < self.limit:
                return 0
            return max(1, int((events[0] + self.window - now).total_seconds()) + 1)


@dataclass
class SubscribeLimits:
    """The defaults: 3 requests per address per hour, 20 per client per hour."""

    per_address: RateLimit = field(default_factory=lambda: RateLimit(3, timedelta(hours=1)))
    per_client: RateLimit = field(default_factory=lambda: RateLimit(20, timedelta(hours=1)))
