"""Rate limits per (user, agent, tool): in memory and in a real Redis.

Time is a fake clock; no test sleeps. Redis tests use
``TOLLHOUSE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``), are
skipped when it is unreachable, and fail instead when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.ratelimit import (
    MemoryRateLimiter,
    RateLimiter,
    RateLimitUnavailable,
    RedisRateLimiter,
    make_rate_limiter,
)

REDIS_URL = os.environ.get("TOLLHOUSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Mid-window, so a test can move within the window or across its end.
START = 60 * 29_000_000 + 30.0
KEY = ("alice", "agent-1", "search")


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def redis_namespace() -> AsyncIterator[str]:
    """A fresh key prefix on the test Redis, emptied afterwards; skips (or fails in CI) without Redis."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        try:
            await client.ping()
        except RedisError as exc:
            reason = f"Redis at {REDIS_URL} is not reachable ({exc}); set TOLLHOUSE_TEST_REDIS_URL"
            if IN_CI:
                pytest.fail(reason)
            pytest.skip(reason)
        prefix = f"tollhouse:test:rl:{uuid.uuid4().hex}:"
        try:
            yield prefix
        finally:
            async for name in client.scan_iter(match=prefix + "*"):
                await client.delete(name)
    finally:
        await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        memory = MemoryRateLimiter(clock=clock)
        yield memory
        await memory.close()
        return
    async with redis_namespace() as prefix:
        shared = RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock)
        try:
            yield shared
        finally:
            await shared.close()


async def test_limit_admits_that_many_calls_then_refuses(limiter: RateLimiter) -> None:
    left, admitted = [], []
    for _ in range(4):
        left.append(await limiter.remaining(KEY, 3))
        # Asking again spends nothing.
        assert await limiter.remaining(KEY, 3) == left[-1]
        admitted.append(await limiter.try_acquire(KEY, 3))
    assert admitted == [True, True, True, False]
    assert left == [3, 2, 1, 0]
    # The refused call was not counted: a larger limit still sees three spent.
    assert await limiter.remaining(KEY, 5) == 2


async def test_each_user_agent_and_tool_has_its_own_budget(limiter: RateLimiter) -> None:
    assert await limiter.try_acquire(KEY, 1)
    assert not await limiter.try_acquire(KEY, 1)

    for other in [
        ("bob", "agent-1", "search"),
        ("alice", "agent-2", "search"),
        ("alice", "agent-1", "fetch"),
    ]:
        assert await limiter.remaining(other, 1) == 1
        assert await limiter.try_acquire(other, 1)
        assert not await limiter.try_acquire(other, 1)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("a:b", "c", "d"), ("a", "b:c", "d")),
        (('a", "b', "c", "d"), ("a", "b", "c")),
        (("a\\", "b", "c"), ("a", "\\b", "c")),
    ],
)
async def test_parts_holding_the_separator_do_not_collide(
    limiter: RateLimiter, first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    assert await limiter.try_acquire(first, 1)
    assert not await limiter.try_acquire(first, 1)
    assert await limiter.try_acquire(second, 1)


async def test_budget_resets_at_the_minute_boundary(limiter: RateLimiter, clock: FakeClock) -> None:
    for _ in range(2):
        assert await limiter.try_acquire(KEY, 2)
    assert not await limiter.try_acquire(KEY, 2)

    clock.advance(29.9)  # still the same minute
    assert not await limiter.try_acquire(KEY, 2)
    assert await limiter.remaining(KEY, 2) == 0

    clock.advance(0.2)  # into the next minute
    assert await limiter.remaining(KEY, 2) == 2
    assert await limiter.try_acquire(KEY, 2)
    assert await limiter.remaining(KEY, 2) == 1


async def test_concurrent_calls_never_exceed_the_limit(limiter: RateLimiter) -> None:
    results = await asyncio.gather(*(limiter.try_acquire(KEY, 10) for _ in range(50)))
    assert results.count(True) == 10
    assert await limiter.remaining(KEY, 10) == 0


async def test_replicas_share_one_budget(clock: FakeClock) -> None:
    async with redis_namespace() as prefix:
        one = RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock)
        two = RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock)
        try:
            results = await asyncio.gather(
                *(replica.try_acquire(KEY, 10) for replica in [one, two] * 15)
            )
            assert results.count(True) == 10
            assert await one.remaining(KEY, 10) == 0
            assert await two.remaining(KEY, 10) == 0
            assert not await two.try_acquire(KEY, 10)
        finally:
            await one.close()
            await two.close()


async def test_unreachable_redis_denies_with_503() -> None:
    unreachable = RedisRateLimiter("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(RateLimitUnavailable) as caught:
            await unreachable.try_acquire(KEY, 10)
        assert caught.value.code == "rate_limit_unavailable"
        assert caught.value.status == 503
        with pytest.raises(RateLimitUnavailable):
            await unreachable.remaining(KEY, 10)
    finally:
        await unreachable.close()


async def test_memory_limiter_forgets_past_windows(clock: FakeClock) -> None:
    memory = MemoryRateLimiter(clock=clock)
    for minute in range(1_000):
        for user in ("alice", "bob", "carol"):
            assert await memory.try_acquire((user, "agent", f"tool-{minute}"), 1)
        clock.advance(60)
    assert len(memory._counts) <= 3


async def test_factory_picks_redis_only_when_given_a_url() -> None:
    assert isinstance(make_rate_limiter(None), MemoryRateLimiter)
    assert isinstance(make_rate_limiter(""), MemoryRateLimiter)
    # Constructing connects to nothing, so any well-formed URL will do.
    shared = make_rate_limiter("redis://127.0.0.1:1/0")
    assert isinstance(shared, RedisRateLimiter)
    await shared.close()
