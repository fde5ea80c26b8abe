"""Command line: run a chapter's experiment and print its claims, optionally saving a full-mode
result.

    python -m scalinglaws list
    python -m scalinglaws run ch0_measuring --mode fast
    python -m scalinglaws run ch3_lottery_tickets --mode full --save     # on a GPU

``run`` reads and fills the same result cache as the chapters (``.cache/``, ``BOOK_NO_CACHE=1``
turns it off), so a chapter built afterwards does not run its experiment again. ``--save`` writes
``results/full/<chapter>.npz`` and ``.json`` (device, wall time, git revision), which the chapter
then plots beside its live fast-mode run; it refuses a fast-mode result.
"""
from __future__ import annotations

import argparse
import sys
import time

from . import __version__
from .cache import load_or_run, save_full_result
from .claims import text_table
from .config import configure_torch, device_name, mode
from .experiments import CHAPTERS, get


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scalinglaws", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=__version__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the chapters")
    r = sub.add_parser("run", help="run one chapter's experiment")
    r.add_argument("chapter", choices=sorted(CHAPTERS))
    r.add_argument("--mode", choices=("fast", "full"), default=None,
                   help="default: BOOK_MODE, else fast (full is opt-in)")
    r.add_argument("--seeds", type=int, nargs="*", default=None, help="override the seeds")
    r.add_argument("--save", action="store_true", help="write results/full/<chapter>.npz/.json")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for c in sorted(CHAPTERS):
            print(c)
        return 0
    try:
        which = mode(args.mode)
    except ValueError as e:  # a bad BOOK_MODE: one line, no traceback
        print(f"scalinglaws: error: {e}", file=sys.stderr)
        return 2
    if args.save and which != "full":
        print("scalinglaws: error: --save writes results/full/, which holds full-mode runs only; "
              "add --mode full (or BOOK_MODE=full)", file=sys.stderr)
        return 2
    configure_torch()
    mod = get(args.chapter)
    cfg = mod.Config.for_mode(which)
    if args.seeds:
        cfg = cfg.with_seeds(args.seeds)
    print(cfg.describe(), flush=True)
    t0 = time.perf_counter()
    # --save stores a fresh run (its wall time is the run's own); otherwise the chapters' cache
    result = mod.run(cfg) if args.save else load_or_run(args.chapter, mod.run, cfg)
    wall = time.perf_counter() - t0
    print(f"{args.chapter}: done in {wall:.1f} s on {device_name()} ({which} mode)")
    print(text_table(mod.claims(result, cfg)))
    if args.save:
        path = save_full_result(args.chapter, result, cfg, wall, device_name())
        print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
