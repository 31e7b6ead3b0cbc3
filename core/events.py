"""In-process change signals: "the registry changed", raised only after a commit.

A writer calls :func:`signal_after_commit` inside its unit of work; when that
transaction commits, the topic's generation number goes up, and readers that
cache (the gateway's catalogue, its agent directory) see a new number and
reload. Other processes rely on their cache's time-to-live instead.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_generations: defaultdict[str, int] = defaultdict(int)
_lock = threading.Lock()
_PENDING = "tollhouse_pending_signals"


def generation(topic: str) -> int:
    return _generations[topic]


def signal_after_commit(session: AsyncSession | Session, topic: str) -> None:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_PENDING, set()).add(topic)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    topics = session.info.pop(_PENDING, None)
    if not topics:
        return
    with _lock:
        for topic in topics:
            _generations[topic] += 1


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)
