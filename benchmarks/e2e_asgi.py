"""End to end: uvicorn serving the bare app, under reqsignals, and under OpenTelemetry.

    python -m benchmarks.e2e_asgi [--rounds 3] [--duration 5] [--connections 32] [--json PATH]

Throughput: one uvicorn process per variant (one worker, access log off, lifespan
off), all started up front, two of them for reference (the app calling the receivers
itself, and the least a middleware can do: see benchmarks/asgi_targets.py). Each
round loads every server at once, each with its own ``wrk -t1 -c32`` on 127.0.0.1
for ``--duration`` seconds, the wrk processes started in the opposite order every
other round. On a machine with two or more CPUs the servers share the first CPU and
the wrk processes the second, so that a server and its load never take turns on one
core.

Loaded at once, the servers share one CPU, which the kernel's scheduler divides
evenly among them while each has requests waiting: each serves requests in inverse
proportion to what a request costs it (user and kernel time alike), and whatever
slows the machine down during a round slows every server of that round alike. On
these shared machines a server's requests per second moves by tens of percent from
one two-second round to the next. Loaded one after the other, as this benchmark once
did, the ratio of two servers within a round then moved with it (its standard
deviation over ten rounds was 0.16 to 0.46); loaded at once, it moves by 0.02 to
0.08. So a variant's requests per second here is its share of one CPU beside the
other four, not what it serves alone, and ratios are judged on paired rounds: the
ratio of two variants' requests per second within each round, and its median over the
rounds (the table also shows each variant's best round). Each round also reports the
server's CPU time per request (user and kernel, from /proc/PID/task/*/schedstat),
whose median over the rounds is shown. Target: reqsignals (one sync receiver on each
signal) keeps at least 0.98x the requests per second of the least a middleware can do
to send the two signals (the floor). Its ratio to the bare app is printed beside the
floor's, for reference only: the floor alone costs about 3% of the cheapest request
uvicorn serves (0.964x to 0.976x the bare app in three runs of this benchmark), as much
as a round's noise, so a limit against the bare app would be decided by that noise and
by what any middleware must do, not by reqsignals.

Memory: a 1 GiB body streamed by the bare app through uvicorn, once alone and once
under reqsignals (each in a fresh server); the peak RSS (VmHWM in /proc/PID/status)
of the two servers must differ by less than 10 MiB.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks import results as bench_results

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "bare": "bare app",
    "reqsignals": "reqsignals, 1 receiver each",
    "receivers": "(reference) the 2 receiver calls alone",
    "floor": "(reference) the least a middleware can do",
    "otel": "OpenTelemetry",
}
GIB = 1 << 30
MIB = 1 << 20


# The CPUs for the servers and for wrk: apart when there are two or more.
_CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPUS = {_CPUS[0]} if len(_CPUS) > 1 else set(_CPUS)
WRK_CPUS = set(_CPUS[1:]) if len(_CPUS) > 1 else set(_CPUS)


def cpu_seconds(pid: int) -> float:
    """CPU time process *pid* has run so far, all its threads, in seconds.

    From /proc/PID/task/*/schedstat (nanoseconds on a CPU, user and kernel alike),
    not /proc/PID/stat, whose clock ticks are 10 ms: a server sharing a CPU with four
    others runs 60 of them in a three-second round, too coarse for a percent.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(FileNotFoundError):  # a thread that ended since the listing
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn(
    variant: str,
    *,
    under: tuple[str, ...] = (),
    start_timeout: float = 30,
    env: dict[str, str] | None = None,
    quiet: bool = False,
    pinned: bool = True,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Serve *variant* with uvicorn on a free port; stop its process group at the end.

    *under* is a command the server runs under (a profiler), its arguments included;
    *env* adds to the server's environment; *quiet* serves with uvicorn's housekeeping
    slowed down (benchmarks.quiet_uvicorn); *pinned* runs the server on SERVER_CPUS.
    """
    port = free_port()
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, **(env or {}), "REQSIGNALS_BENCH_VARIANT": variant, "PYTHONPATH": path}
    proc = subprocess.Popen(
        [*under, sys.executable, "-m", "benchmarks.quiet_uvicorn" if quiet else "uvicorn",
         "benchmarks.asgi_targets:app", "--host",
         "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log", "--lifespan",
         "off", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        if pinned:
            os.sched_setaffinity(proc.pid, SERVER_CPUS)
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn ({variant}) did not start") from None
                time.sleep(0.05)
        yield proc, port
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def stop_servers_on_sigterm() -> None:
    """Make SIGTERM (the report's timeout) run the ``finally`` that stops each server.

    Every server runs in a session of its own, so a signal to this process's group does
    not reach it: without this, a benchmark stopped from outside would leave its servers
    running, and holding its output pipe open.
    """

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def wrk_at_once(ports: list[int], duration: int, connections: int) -> list[tuple[float, int]]:
    """Load every port of *ports* at once, one wrk each, for *duration* seconds, the
    wrk processes started in the order given: (requests per second, requests) of each."""
    with ExitStack() as stack:
        loads = [
            stack.enter_context(
                subprocess.Popen(
                    ["wrk", "-t1", f"-c{connections}", f"-d{duration}s",
                     f"http://127.0.0.1:{port}/"],
                    stdout=subprocess.PIPE, text=True,
                    preexec_fn=lambda: os.sched_setaffinity(0, WRK_CPUS),
                )
            )
            for port in ports
        ]  # fmt: skip
        outs = [load.communicate(timeout=duration + 30)[0] for load in loads]
        failed = [load.args for load in loads if load.returncode != 0]
    if failed:
        raise RuntimeError(f"wrk failed: {failed}")
    return [_wrk_result(out) for out in outs]


def _wrk_result(out: str) -> tuple[float, int]:
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if rps is None or count is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    return float(rps.group(1)), int(count.group(1))


#: reqsignals' requests per second over the floor's (median of paired rounds), at least.
VS_FLOOR = 0.98


def round_order(variants: list[str], number: int) -> list[str]:
    """The order round *number* (from 0) loads *variants* in: as given, then reversed."""
    return list(variants) if number % 2 == 0 else list(reversed(variants))


def paired_median(rps: dict[str, list[float]], variant: str, against: str) -> float:
    """The median over the rounds of *variant*'s requests per second over *against*'s."""
    return statistics.median(a / b for a, b in zip(rps[variant], rps[against], strict=True))


def throughput(
    rounds: int, duration: int, connections: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rps: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}  # server CPU µs per request
    with ExitStack() as stack:
        servers = {v: stack.enter_context(uvicorn(v)) for v in VARIANTS}
        wrk_at_once([port for _, port in servers.values()], 1, connections)  # warm up
        for number in range(rounds):
            order = round_order(list(servers), number)
            before = {v: cpu_seconds(servers[v][0].pid) for v in order}
            loads = wrk_at_once([servers[v][1] for v in order], duration, connections)
            for variant, (per_second, count) in zip(order, loads, strict=True):
                rps[variant].append(per_second)
                used = cpu_seconds(servers[variant][0].pid) - before[variant]
                cpu[variant].append(used / count * 1e6)
    best = {v: max(r) for v, r in rps.items()}
    typical = {v: statistics.median(c) for v, c in cpu.items()}
    print(f"`wrk -t1 -c{connections} -d{duration}s` on every server at once, {rounds} rounds; "
          f"uvicorn {version('uvicorn')}, one worker, access log off; servers sharing CPUs "
          f"{sorted(SERVER_CPUS)}, wrk on {sorted(WRK_CPUS)}")  # fmt: skip
    print()
    print("| variant | req/s (best) | every round | vs bare (best) | vs bare (median round) "
          "| server CPU µs/request (median round) |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|")
    for v, label in VARIANTS.items():
        rounds_text = ", ".join(f"{x:.0f}" for x in rps[v])
        print(f"| {label} | {best[v]:.0f} | {rounds_text} | {best[v] / best['bare']:.3f}x "
              f"| {paired_median(rps, v, 'bare'):.3f}x | {typical[v]:.1f} |")  # fmt: skip
    vs_floor = paired_median(rps, "reqsignals", "floor")
    print()
    print(f"For reference, against the bare app (median of paired rounds): reqsignals "
          f"{paired_median(rps, 'reqsignals', 'bare'):.3f}x, the floor "
          f"{paired_median(rps, 'floor', 'bare'):.3f}x")  # fmt: skip
    print(f"Target: reqsignals >= {VS_FLOOR:.2f}x the floor (median of paired rounds): "
          f"{vs_floor:.3f}x, {'met' if vs_floor >= VS_FLOOR else 'MISSED'}")  # fmt: skip
    rows = [
        {"group": "throughput", "variant": label, "rps": best[v], "every_round": rps[v],
         "vs_bare": best[v] / best["bare"], "vs_bare_median": paired_median(rps, v, "bare"),
         "cpu_us": typical[v], "every_round_cpu_us": cpu[v]}
        for v, label in VARIANTS.items()
    ]  # fmt: skip
    return rows, [
        bench_results.target(
            "e2e.floor", "reqsignals (1 receiver each) req/s vs the least a middleware can do, "
            "median of paired rounds", vs_floor, VS_FLOOR, op=">=", unit="x",
        ),
    ]  # fmt: skip


def vm_hwm(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1)) * 1024


def fetch(port: int, path: str) -> int:
    """GET *path*, read and drop the whole body; return the body's length."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        buf = bytearray(1 << 20)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        assert match, head
        size, got = int(match.group(1)), len(rest)
        while got < size:
            n = sock.recv_into(buf)
            if not n:
                raise RuntimeError(f"connection closed after {got} of {size} bytes")
            got += n
        return got


def memory() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = []
    for variant in ("bare", "reqsignals"):
        with uvicorn(variant) as (proc, port):
            fetch(port, "/")
            before = vm_hwm(proc.pid)
            start = time.perf_counter()
            assert fetch(port, f"/stream?bytes={GIB}") == GIB
            seconds = time.perf_counter() - start
            rows.append((variant, before, vm_hwm(proc.pid), seconds))
    print("1 GiB streamed through uvicorn in 64 KiB chunks; peak RSS (VmHWM) of the server")
    print()
    print("| variant | VmHWM before | VmHWM after | growth | time |")
    print("|---|---:|---:|---:|---:|")
    for variant, before, after, seconds in rows:
        print(f"| {VARIANTS[variant]} | {before / MIB:.1f} MiB | {after / MIB:.1f} MiB | "
              f"{(after - before) / MIB:+.1f} MiB | {seconds:.1f} s |")  # fmt: skip
    diff = abs(rows[1][2] - rows[0][2]) / MIB
    print()
    print(f"Target: peak RSS differs by < 10 MiB: {diff:.1f} MiB, "
          f"{'met' if diff < 10 else 'MISSED'}")  # fmt: skip
    out = [
        {"group": "memory", "variant": VARIANTS[variant], "before_mib": before / MIB,
         "peak_mib": after / MIB, "growth_mib": (after - before) / MIB, "seconds": seconds}
        for variant, before, after, seconds in rows
    ]  # fmt: skip
    return out, bench_results.target(
        "e2e.memory", "1 GiB streamed: peak RSS with reqsignals - without", diff, 10.0, op="<",
        unit="MiB",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    stop_servers_on_sigterm()
    rows: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    if not args.skip_throughput:
        more, verdicts = throughput(args.rounds, args.duration, args.connections)
        rows += more
        targets += verdicts
        print()
    if not args.skip_memory:
        more, verdict = memory()
        rows += more
        targets.append(verdict)
    bench_results.write(
        args.json,
        "End to end under uvicorn",
        rows,
        targets,
        rounds=args.rounds,
        duration=args.duration,
        connections=args.connections,
        uvicorn=version("uvicorn"),
    )


if __name__ == "__main__":
    main()
