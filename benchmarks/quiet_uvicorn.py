"""uvicorn as benchmarks.instructions_asgi counts it: quieter, and laid out on purpose.

    REQSIGNALS_BENCH_LAYOUT=3 python -m benchmarks.quiet_uvicorn <uvicorn's own arguments>

Runs uvicorn's own command line, with two changes that leave the serving of requests
to uvicorn's code:

* uvicorn wakes ten times a second to refresh its ``date`` header and look for a
  shutdown request. Under callgrind a request takes milliseconds, so those wake-ups
  add thousands of instructions to each counted request, more or fewer with how fast
  the machine happened to run the server: two counts of one app then differ by more
  than the variants being compared. Here they come :data:`TICK` seconds apart.
* ``REQSIGNALS_BENCH_LAYOUT=k`` makes, and looks at, *k* classes before uvicorn loads
  the app, so that every type met later gets another version tag and every later
  object another address: another draw of the layout that decides which type-cache
  entries collide (see benchmarks.instructions_asgi).
"""

from __future__ import annotations

import asyncio
import os

from uvicorn.main import main
from uvicorn.server import Server

#: Seconds between uvicorn's housekeeping wake-ups (uvicorn's own: 0.1).
TICK = 5.0
#: The environment variable of the layout, a number from 0 up.
LAYOUT = "REQSIGNALS_BENCH_LAYOUT"


async def _main_loop(self: Server) -> None:
    # Every tick refreshes the date header (uvicorn does so on each tenth of its
    # ticks) and returns whether the server should stop.
    tick = 0
    while not await self.on_tick(tick):
        await asyncio.sleep(TICK)
        tick += 10


def run() -> None:
    """Lay the process out, slow the housekeeping down, and run uvicorn's command line."""
    layout = [type(f"_Layout{i}", (), {}) for i in range(int(os.environ.get(LAYOUT, "0")))]
    for cls in layout:
        getattr(cls, "_", None)  # the first look gives the class its version tag
    Server.main_loop = _main_loop  # type: ignore[method-assign]
    main()


if __name__ == "__main__":
    run()
