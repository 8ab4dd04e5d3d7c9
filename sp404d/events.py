"""A tiny publish/subscribe bus for progress events (socket `subscribe`, CLI --follow).

Each subscriber has its own bounded queue; a subscriber that does not keep up loses its oldest
events instead of slowing the daemon (a client that never reads must not stall the writer).
"""

from __future__ import annotations

import queue
import threading
import time


class Subscription:
    def __init__(self, bus: "EventBus", maxsize: int):
        self.bus = bus
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)

    def get(self, timeout: float) -> dict | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self):
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, maxsize)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, event: str, **fields) -> None:
        message = {"event": event, "time": round(time.time(), 3), **fields}
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            while True:
                try:
                    sub.queue.put_nowait(message)
                    break
                except queue.Full:
                    try:
                        sub.queue.get_nowait()
                    except queue.Empty:
                        pass

    def __len__(self) -> int:
        return len(self._subs)
