"""A fake monotonic clock for the rate limiter, the retry loop and deadlines: no real waiting."""

from __future__ import annotations

import asyncio


class FakeTime:
    """``monotonic()`` and ``sleep()`` on a clock that only moves when sleeping (or when told).

    With ``auto_advance`` a sleep moves the clock at once. Without it, sleepers wait until
    :meth:`run_until_idle` wakes them in order of their wake-up times, so several waiting
    callers can be observed before any of them proceeds.
    """

    def __init__(self, *, start: float = 1000.0, auto_advance: bool = True) -> None:
        self.now = start
        self.auto_advance = auto_advance
        self.sleeps: list[float] = []
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = 0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.auto_advance:
            self.now += seconds
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._count += 1
        self._wakeups.append((self.now + seconds, self._count, future))
        await future

    def pending_wakeups(self) -> list[float]:
        """Seconds from now until each sleeper that is still waiting wakes up."""
        return [at - self.now for at, _, future in self._wakeups if not future.done()]

    async def settle(self) -> None:
        """Let every ready task run until it blocks."""
        for _ in range(20):
            await asyncio.sleep(0)

    async def wake_next(self) -> None:
        """Move the clock to the earliest sleeper's wake-up time, wake it, and let it run."""
        await self.settle()
        waiting = sorted((w for w in self._wakeups if not w[2].done()), key=lambda w: (w[0], w[1]))
        assert waiting, "nobody is sleeping"
        at, _, future = waiting[0]
        self.now = max(self.now, at)
        future.set_result(None)
        await self.settle()

    async def run_until_idle(self) -> None:
        """Wake sleepers one by one in time order, moving the clock, until nobody sleeps."""
        await self.settle()
        while True:
            waiting = sorted((w for w in self._wakeups if not w[2].done()), key=lambda w: (w[0], w[1]))
            if not waiting:
                return
            at, _, future = waiting[0]
            self.now = max(self.now, at)
            future.set_result(None)
            await self.settle()
