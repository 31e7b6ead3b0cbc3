"""Per-key call budgets in calls per minute, as fixed one-minute windows.

The gateway keys a budget on ``(user, agent, tool)``. A window is
``floor(now / 60)``: every budget resets on the minute boundary.
``MemoryRateLimiter`` serves one process; ``RedisRateLimiter`` lets several
gateway replicas share their counters.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.errors import TollhouseError

Key = tuple[str, str, str]

WINDOW_SECONDS = 60
# Outlives its window by a full minute so a replica whose clock lags a little
# still finds the counter; after that Redis reclaims it on its own.
_REDIS_KEY_TTL_SECONDS = 120
# A rate check sits on every tool call: better to deny quickly than to hang.
_REDIS_TIMEOUT_SECONDS = 2.0

# Read, compare and increment in one script so that two replicas can never
# both take the last unit of a budget.
_ACQUIRE_LUA = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count < tonumber(ARGV[1]) then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class RateLimitUnavailable(TollhouseError):
    """The counters cannot be reached; the gateway denies rather than guesses."""

    code = "rate_limit_unavailable"
    status = 503


class RateLimiter(Protocol):
    """A budget of calls per key and per one-minute window."""

    async def try_acquire(self, key: Key, limit_per_minute: int) -> bool:
        """Spend one call if the current window is below the limit.

        Returns False, spending nothing, when the budget is used up.
        Raises RateLimitUnavailable if the counters cannot be reached.
        """
        ...

    async def remaining(self, key: Key, limit_per_minute: int) -> int:
        """Calls left in the current window, spending nothing.

        Raises RateLimitUnavailable if the counters cannot be reached.
        """
        ...

    async def close(self) -> None:
        """Release any connection the limiter holds."""
        ...


def _window(clock: Callable[[], float]) -> int:
    return math.floor(clock() / WINDOW_SECONDS)


class MemoryRateLimiter:
    """Counters in this process only.

    Safe under asyncio because no method awaits between reading and writing a
    counter. Only the current window is kept, so memory is bounded by the keys
    seen in one minute.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._window: int | None = None
        self._counts: dict[Key, int] = {}

    def _current_counts(self) -> dict[Key, int]:
        window = _window(self._clock)
        if window != self._window:
            self._window = window
            self._counts = {}
        return self._counts

    async def try_acquire(self, key: Key, limit_per_minute: int) -> bool:
        """Spend one call if the current window is below the limit; never raises."""
        counts = self._current_counts()
        count = counts.get(key, 0)
        if count >= limit_per_minute:
            return False
        counts[key] = count + 1
        return True

    async def remaining(self, key: Key, limit_per_minute: int) -> int:
        """Calls left in the current window, spending nothing; never raises."""
        return max(0, limit_per_minute - self._current_counts().get(key, 0))

    async def close(self) -> None:
        """Nothing to release."""


class RedisRateLimiter:
    """Counters in Redis, shared by every replica pointed at the same server and prefix.

    Nothing connects until the first call. The constructor raises ValueError
    if ``url`` is not a Redis URL.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tollhouse:rl:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
        )
        self._prefix = prefix
        self._clock = clock
        self._acquire = self._redis.register_script(_ACQUIRE_LUA)

    def _redis_key(self, key: Key) -> str:
        # JSON escapes quotes and backslashes inside each part, so distinct
        # keys can never encode to the same string, whatever the parts hold.
        return f"{self._prefix}{json.dumps(list(key))}:{_window(self._clock)}"

    async def try_acquire(self, key: Key, limit_per_minute: int) -> bool:
        """Spend one call if the current window is below the limit.

        Raises RateLimitUnavailable if Redis cannot be reached or fails.
        """
        try:
            taken = await self._acquire(
                keys=[self._redis_key(key)],
                args=[limit_per_minute, _REDIS_KEY_TTL_SECONDS],
            )
        except RedisError as exc:
            raise RateLimitUnavailable(f"rate limit counters unavailable: {exc}") from exc
        return bool(taken)

    async def remaining(self, key: Key, limit_per_minute: int) -> int:
        """Calls left in the current window, spending nothing.

        Raises RateLimitUnavailable if Redis cannot be reached or fails.
        """
        try:
            count = await self._redis.get(self._redis_key(key))
        except RedisError as exc:
            raise RateLimitUnavailable(f"rate limit counters unavailable: {exc}") from exc
        return max(0, limit_per_minute - int(count or 0))

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    """A Redis-backed limiter when a URL is given (non-empty), an in-memory one otherwise.

    Raises ValueError if ``redis_url`` is not a Redis URL; nothing connects
    until the first call.
    """
    if redis_url:
        return RedisRateLimiter(redis_url)
    return MemoryRateLimiter()
