"""Why a target was missed, in one plain paragraph worked out from the run's numbers."""

from __future__ import annotations

import statistics

from benchmarks.report.tables import (
    FLOOR_VARIANT,
    Data,
    num,
    operator_sign,
    overheads,
    times,
    with_unit,
)

# What the issues measured for the anchors on the machine they were written on (µs of
# overhead), to set this machine's numbers against.
ISSUE_ANCHORS = {"wsgi": (129.0, "OpenTelemetry +129 to +163 µs, Sentry +165 to +174 µs"),
                 "asgi": (121.0, "OpenTelemetry +206 to +226 µs, Sentry +121 µs")}  # fmt: skip


def _explain_one_each(kind: str, target: Data, results: dict[str, Data]) -> str:
    data = results["middleware_wsgi" if kind == "wsgi" else "middleware_asgi"]
    over = overheads(data)
    otel_key, sentry_key = (
        ("opentelemetry", "sentry") if kind == "wsgi" else ("OpenTelemetry ASGI", "Sentry ASGI")
    )
    ref = next((v for k, v in over.items() if k.startswith("(reference)")), None)
    otel, sentry = over[otel_key], over[sentry_key]
    cheaper, limit, value = min(otel, sentry), target["limit"], target["value"]
    issue_cheaper, issue_text = ISSUE_ANCHORS[kind]
    text = (
        f"The middleware adds {num(value)} µs against a limit of {num(limit)} µs, 1/40 of the "
        f"cheaper anchor here ({'OpenTelemetry' if otel <= sentry else 'Sentry'}, "
        f"+{num(cheaper)} µs; the other costs +{num(max(otel, sentry))} µs). "
    )
    if ref is not None:
        text += (
            f"Calling the two receivers of a successful request alone, with no middleware, "
            f"costs {num(ref)} µs (the reference row): "
            f"{ref / limit:.0%} of the whole budget before the middleware does anything. "
        )
    text += (
        f"The anchors cost {'less' if cheaper < issue_cheaper else 'more'} here than where "
        f"the issue measured them ({issue_text}); against the issue's cheaper anchor the "
        f"limit would be {num(issue_cheaper / 40)} µs, which this overhead "
        f"{'would meet' if value <= issue_cheaper / 40 else 'would still miss'}."
    )
    return text


def _explain_no_receivers(target: Data, results: dict[str, Data]) -> str:
    return (
        f"Both overheads are tens of nanoseconds ({num(target['value'] * 1000)} ns against a "
        f"limit of {num(target['limit'] * 1000)} ns), so a few nanoseconds of noise decide "
        "this verdict from run to run."
    )


def _rounds(ratios: list[float], limit: float) -> str:
    """How the round-by-round *ratios* (sorted) spread around *limit*, as a sentence."""
    if len(ratios) < 2:
        return ""
    met = sum(r >= limit for r in ratios)
    return (
        f"Round by round (each round loads every server at once, the servers sharing one "
        f"CPU) the ratio ranged from {times(ratios[0], 3)} to "
        f"{times(ratios[-1], 3)}, and "
        + (
            "every round missed: not one unlucky round. "
            if not met
            else f"{met} of {len(ratios)} rounds met it"
            + (
                ": the verdict is within this machine's noise. "
                if 2 * met >= len(ratios)
                else ", so most rounds missed too. "
            )
        )
    )


def _explain_e2e_floor(target: Data, results: dict[str, Data], loads: dict[str, str]) -> str:
    data = results["e2e_asgi"]
    rows = {r["variant"]: r for r in data["rows"] if r.get("group") == "throughput"}
    bare, ours, floor = rows["bare app"], rows["reqsignals, 1 receiver each"], rows[FLOOR_VARIANT]
    text = (
        f"Under reqsignals uvicorn served {times(target['value'], 3)} of the requests per "
        "second it served under the least a middleware can do, the median over the rounds "
        "of the ratio within each round (load average "
        f"{loads.get('e2e_asgi', 'unknown')} when the run began). "
    )
    text += _rounds(_paired(ours, floor), target["limit"])
    text += (
        f"The floor itself served {times(statistics.median(_paired(floor, bare)), 3)} of the "
        "bare app's requests per second (median round)"
    )
    counted = results.get("instructions_asgi")
    if counted:
        counts = {r["variant"]: r for r in counted.get("rows", [])}
        mine, least = counts.get("reqsignals, 1 receiver each"), counts.get(FLOOR_VARIANT)
        if mine and least and least.get("extra"):
            text += (
                f"; counted in instructions, which no other load moves, reqsignals' work "
                f"over the bare request is {mine['extra'] / least['extra']:.2f}× the floor's "
                f"({mine['extra'] - least['extra']:+,.0f} instructions a request)"
            )
    return text + "."


def _paired(row: Data, against: Data) -> list[float]:
    """*row*'s requests per second over *against*'s, round by round, sorted."""
    return sorted(a / b for a, b in zip(row["every_round"], against["every_round"], strict=True))


def explain(target: Data, results: dict[str, Data], loads: dict[str, str]) -> str:
    """One plain paragraph on why *target* was missed, from the numbers of this run."""
    tid = target.get("id", "")
    try:
        if tid == "wsgi.one_each":
            return _explain_one_each("wsgi", target, results)
        if tid in ("asgi.one_sync", "asgi.one_async"):
            return _explain_one_each("asgi", target, results)
        if tid in ("wsgi.no_receivers", "asgi.no_receivers"):
            return _explain_no_receivers(target, results)
        if tid == "e2e.floor":
            return _explain_e2e_floor(target, results, loads)
    except (KeyError, ValueError, ZeroDivisionError):
        pass  # rows missing or renamed: fall back to the plain statement
    return (
        f"Measured {with_unit(target['value'], target.get('unit', ''))} against a limit of "
        f"{operator_sign(target)} {with_unit(target['limit'], target.get('unit', ''))}."
    )
