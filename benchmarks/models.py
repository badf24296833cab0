"""Model signals: what the SQLAlchemy bridge adds to a flush, vs SQLAlchemy's own listeners.

    python -m benchmarks.models [--rounds 15] [--objects 1000]

One process, SQLite in memory. Each variant has its own declarative base, model and
engine, so their listeners never meet:

- bare: SQLAlchemy with no listener at all;
- SQLAlchemy listener: ``after_insert`` and ``after_update`` listeners calling a no-op
  function with the object, as a hand-written audit hook would;
- reqsignals, no receivers: ``connect_models(Base)`` and nothing connected;
- reqsignals, one receiver: the same, with one no-op ``post_save`` receiver for the model.

Timed: constructing the objects, flushing them as inserts, changing one attribute of
each and flushing them as updates. Every variant runs once per round, one after the
other, round after round; each keeps its fastest round (noise only ever adds time).
Times are the process's CPU time (``time.process_time``), so that other processes
taking the CPU away do not count. Prints a Markdown table of milliseconds per operation
and the ratios.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from reqsignals import post_save
from reqsignals.contrib.sqlalchemy import connect_models

X = "\u00d7"
OPERATIONS = ("construct", "insert flush", "update flush")


def noop(*args: Any, **kwargs: Any) -> None:
    return None


class Variant:
    """One model class on its own base and engine, set up as the variant says."""

    def __init__(self, name: str, setup: Callable[[type[Any], type[Any]], None]) -> None:
        class Base(DeclarativeBase):
            pass

        class Item(Base):
            __tablename__ = "item"
            id: Mapped[int] = mapped_column(primary_key=True)
            title: Mapped[str]
            body: Mapped[str] = mapped_column(default="")

        setup(Base, Item)
        self.name = name
        self.model = Item
        self.engine: Engine = create_engine("sqlite://")
        Base.metadata.create_all(self.engine)

    def run(self, objects: int) -> dict[str, float]:
        """Seconds for each operation, once."""
        model = self.model
        with Session(self.engine) as session:
            t0 = time.process_time()
            items = [model(title=f"item {i}") for i in range(objects)]
            t1 = time.process_time()
            session.add_all(items)
            t2 = time.process_time()
            session.flush()
            t3 = time.process_time()
            for item in items:
                item.title += "!"
            t4 = time.process_time()
            session.flush()
            t5 = time.process_time()
            session.rollback()
        return {"construct": t1 - t0, "insert flush": t3 - t2, "update flush": t5 - t4}


def sqlalchemy_listener(base: type[Any], model: type[Any]) -> None:
    def after_write(mapper: Any, connection: Any, target: Any) -> None:
        noop(sender=model, instance=target)

    event.listen(model, "after_insert", after_write)
    event.listen(model, "after_update", after_write)


def bridge(base: type[Any], model: type[Any]) -> None:
    connect_models(base)


def bridge_one_receiver(base: type[Any], model: type[Any]) -> None:
    connect_models(base)
    post_save.connect(noop, sender=model, weak=False)


VARIANTS = [
    ("bare SQLAlchemy", lambda base, model: None),
    ("SQLAlchemy listener (after_insert/after_update)", sqlalchemy_listener),
    ("reqsignals, no receivers", bridge),
    ("reqsignals, one post_save receiver", bridge_one_receiver),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args(argv)

    variants = [Variant(name, setup) for name, setup in VARIANTS]
    best = {v.name: dict.fromkeys(OPERATIONS, float("inf")) for v in variants}
    for v in variants:  # warm-up: compile the statements, fill the caches
        v.run(args.objects)
    gc.disable()
    try:
        for _ in range(args.rounds):
            for v in variants:
                for op, seconds in v.run(args.objects).items():
                    best[v.name][op] = min(best[v.name][op], seconds)
                gc.collect()
    finally:
        gc.enable()

    print(
        f"Python {platform.python_version()}, SQLAlchemy {version('SQLAlchemy')}, "
        f"{args.objects} objects, best of {args.rounds} rounds, "
        f"SQLite in memory ({sys.platform})\n"
    )
    print("| variant | " + " | ".join(f"{op} (ms)" for op in OPERATIONS) + " |")
    print("|---|" + "---:|" * len(OPERATIONS))
    for v in variants:
        cells = " | ".join(f"{best[v.name][op] * 1000:.2f}" for op in OPERATIONS)
        print(f"| {v.name} | {cells} |")

    bare, listener, quiet, one = (best[name] for name, _ in VARIANTS)
    print("\n| ratio | " + " | ".join(OPERATIONS) + " |")
    print("|---|" + "---:|" * len(OPERATIONS))
    for label, top, bottom in (
        ("reqsignals, no receivers / bare", quiet, bare),
        ("reqsignals, one receiver / SQLAlchemy listener", one, listener),
        ("reqsignals, one receiver / bare", one, bare),
        ("SQLAlchemy listener / bare", listener, bare),
    ):
        cells = " | ".join(f"{top[op] / bottom[op]:.2f}{X}" for op in OPERATIONS)
        print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()
