"""Signal dispatch: reqsignals vs Django vs blinker vs a bare loop, in one process.

    python -m benchmarks.dispatch [--rounds 15] [--number 20000] [--json PATH]

Every variant is timed for `number` sends, all variants one after the other, round
after round; each keeps its fastest round (the machine is noisy; the minimum is the
least disturbed). Prints Markdown tables of ns per send and the ratios the targets
are stated in.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

import blinker
import django
import django.dispatch

from benchmarks import results
from reqsignals import Signal

COUNTS = (0, 1, 3, 10)


class Sender:
    pass


ENVIRON = {"PATH_INFO": "/"}


def make_receivers(n: int) -> list[Callable[..., Any]]:
    out = []
    for _ in range(n):

        def r(sender: Any, **kwargs: Any) -> None:
            return None

        out.append(r)
    return out


def bare_loop(receivers: tuple[Callable[..., Any], ...]) -> Callable[..., Any]:
    """The limit: a plain loop over a tuple of the same receivers."""
    signal = object()

    def send(sender: Any, **named: Any) -> list[tuple[Any, Any]]:
        return [(r, r(signal=signal, sender=sender, **named)) for r in receivers]

    return send


def interleaved(
    variants: dict[str, Callable[[int], float]], rounds: int, number: int
) -> dict[str, float]:
    """Run each variant's timer `rounds` times, interleaved; ns per call, min kept."""
    best = {name: float("inf") for name in variants}
    for _ in range(rounds):
        for name, timer in variants.items():
            gc.collect()
            best[name] = min(best[name], timer(number) / number * 1e9)
    return best


def sync_timer(send: Callable[..., Any]) -> Callable[[int], float]:
    t = timeit.Timer("send(Sender, environ=ENVIRON)", globals={**globals(), "send": send})
    return t.timeit


def method_timer(obj: Any) -> Callable[[int], float]:
    # `sig.send(...)` spelled as users write it (attribute lookup + call).
    t = timeit.Timer("sig.send(Sender, environ=ENVIRON)", globals={**globals(), "sig": obj})
    return t.timeit


def async_timer(loop: asyncio.AbstractEventLoop, sig: Any) -> Callable[[int], float]:
    async def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await sig.asend(Sender, environ=ENVIRON)
        return time.perf_counter() - start

    return lambda n: loop.run_until_complete(run(n))


def bench_send(rounds: int, number: int) -> list[dict[str, Any]]:
    rows = []
    for weak in (False, True):
        for n in COUNTS:
            receivers = make_receivers(n)
            ours, dj, bl = Signal("bench"), django.dispatch.Signal(), blinker.Signal()
            for r in receivers:
                ours.connect(r, weak=weak)
                dj.connect(r, weak=weak)
                bl.connect(r, weak=weak)
            times = interleaved(
                {
                    "bare": sync_timer(bare_loop(tuple(receivers))),
                    "reqsignals": method_timer(ours),
                    "django": method_timer(dj),
                    "blinker": method_timer(bl),
                },
                rounds,
                number,
            )
            rows.append({"weak": weak, "n": n, **times})
    return rows


def bench_asend(rounds: int, number: int) -> list[dict[str, Any]]:
    loop = asyncio.new_event_loop()
    rows = []
    try:
        for kind in ("sync", "async"):
            for n in (1, 3):
                ours, dj = Signal("bench"), django.dispatch.Signal()
                keep = []
                for _ in range(n):

                    def sync_r(sender: Any, **kwargs: Any) -> None:
                        return None

                    async def async_r(sender: Any, **kwargs: Any) -> None:
                        return None

                    r: Callable[..., Any] = sync_r if kind == "sync" else async_r
                    keep.append(r)
                    ours.connect(r)
                    dj.connect(r)
                times = interleaved(
                    {
                        "reqsignals": async_timer(loop, ours),
                        "django": async_timer(loop, dj),
                    },
                    rounds,
                    max(number // 20, 200),
                )
                rows.append({"kind": kind, "n": n, **times})
    finally:
        loop.close()
    return rows


def machine() -> str:
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, Django {django.__version__}, "
        f"blinker {blinker_version()}"
    )


def blinker_version() -> str:
    from importlib.metadata import version

    return version("blinker")


def report(send_rows: list[dict[str, Any]], asend_rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Machine: {machine()}",
        "",
        "`send`, ns per send (lower is better); ratios are reqsignals / other.",
        "",
        "| receivers | refs | bare loop | reqsignals | Django | blinker "
        "| vs bare | vs Django | vs blinker | target |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    failures = []
    for row in send_rows:
        ours = row["reqsignals"]
        vs_bare, vs_dj, vs_bl = ours / row["bare"], ours / row["django"], ours / row["blinker"]
        if row["n"] == 0:
            target = "≤ 0.80× Django"
            ok = vs_dj <= 0.8
        else:
            limit = 1.3 if row["weak"] else 1.2
            target = f"≤ {limit}× bare, < Django, < blinker"
            ok = vs_bare <= limit and vs_dj < 1 and vs_bl < 1
        if not ok:
            failures.append(f"{row['n']} receivers ({'weak' if row['weak'] else 'strong'})")
        lines.append(
            f"| {row['n']} | {'weak' if row['weak'] else 'strong'} | {row['bare']:.0f} "
            f"| {ours:.0f} | {row['django']:.0f} | {row['blinker']:.0f} "
            f"| {vs_bare:.2f}× | {vs_dj:.2f}× | {vs_bl:.2f}× "
            f"| {target}: {'met' if ok else '**missed**'} |"
        )
    lines += [
        "",
        "`asend`, ns per send (weak receivers, inside one running event loop).",
        "",
        "| receivers | kind | reqsignals | Django | reqsignals / Django |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in asend_rows:
        lines.append(
            f"| {row['n']} | {row['kind']} | {row['reqsignals']:.0f} | {row['django']:.0f} "
            f"| {row['reqsignals'] / row['django']:.2f}× |"
        )
    lines.append("")
    lines.append(
        "All dispatch targets met."
        if not failures
        else "Targets missed: " + "; ".join(failures) + "."
    )
    return "\n".join(lines)


def targets(send_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same verdicts `report` prints, one target per comparison."""
    out = []
    for row in send_rows:
        refs = "weak" if row["weak"] else "strong"
        ours = row["reqsignals"]
        where = f"{row['n']} receiver{'' if row['n'] == 1 else 's'}, {refs}"
        key = f"dispatch.send.{row['n']}.{refs}"
        if row["n"] == 0:
            out.append(
                results.target(f"{key}.django", f"{where}: vs Django", ours / row["django"], 0.8,
                               unit="×")
            )  # fmt: skip
            continue
        limit = 1.3 if row["weak"] else 1.2
        out += [
            results.target(f"{key}.bare", f"{where}: vs bare loop", ours / row["bare"], limit,
                           unit="×"),
            results.target(f"{key}.django", f"{where}: vs Django", ours / row["django"], 1.0,
                           op="<", unit="×"),
            results.target(f"{key}.blinker", f"{where}: vs blinker", ours / row["blinker"], 1.0,
                           op="<", unit="×"),
        ]  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    send_rows = bench_send(args.rounds, args.number)
    asend_rows = bench_asend(args.rounds, args.number)
    print(report(send_rows, asend_rows))
    results.write(
        args.json,
        "Signal dispatch",
        [
            *({"group": "send", "refs": "weak" if r["weak"] else "strong", **r} for r in send_rows),
            *({"group": "asend", **r} for r in asend_rows),
        ],
        targets(send_rows),
        unit="ns",
        rounds=args.rounds,
        number=args.number,
        python=platform.python_version(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
