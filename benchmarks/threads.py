"""Fit time with 1 vs 2 torch threads, side by side, on this machine.

Alternates ``n_threads=1`` and ``n_threads=2`` fits of the same distillation
(the paper's cpusmall teacher, our defaults with a smaller budget) and
reports the median seconds of each and their ratio, with the load average.

Example::

    python benchmarks/threads.py --data-dir ../shared/datasets \\
        --out benchmarks/results/threads
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from protocol import teacher_for, write_markdown  # noqa: E402

from skdistill import DataFreeDistillRegressor  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--max-queries", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="competing single-core busy-loop processes to run meanwhile",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(args.busy)
    ]
    teacher, _ = teacher_for(args.data_dir, "cpusmall", 1)
    load_start = os.getloadavg()[0]
    seconds = {1: [], 2: []}
    for _ in range(args.repeats):
        for n in (1, 2):
            d = DataFreeDistillRegressor(
                teacher, max_queries=args.max_queries, n_threads=n, random_state=0
            )
            start = time.perf_counter()
            d.fit()
            seconds[n].append(time.perf_counter() - start)
            print(f"n_threads={n}: {seconds[n][-1]:.1f} s", flush=True)
    for burner in burners:
        burner.kill()
    one, two = np.median(seconds[1]), np.median(seconds[2])
    table = (
        "| n_threads | median fit seconds | runs |\n|---|---|---|\n"
        f"| 1 | {one:.1f} | {', '.join(f'{s:.1f}' for s in seconds[1])} |\n"
        f"| 2 | {two:.1f} | {', '.join(f'{s:.1f}' for s in seconds[2])} |\n\n"
        f"2 threads / 1 thread: {two / one:.2f}. Load average at start: "
        f"{load_start:.2f}; competing busy processes: {args.busy}."
    )
    print(table)
    if args.out:
        write_markdown(args.out, table)


if __name__ == "__main__":
    main()
