"""Train and cache the published teachers for many datasets and seeds in parallel.

Each teacher is the paper's 500-unit tanh MLP, trained by the published recipe
(``protocol.train_teacher``) in its own process with one torch thread, and
saved as a weights-only ``state_dict`` in ``--cache`` (``benchmarks/cache`` by
default), where ``paper_table.py`` finds it. Teachers already cached are
skipped.

Example::

    python benchmarks/train_teachers.py --data-dir ../shared/datasets --jobs 2
"""

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import protocol  # noqa: E402


def _train(args):
    data_dir, cache, name, seed = args
    torch.set_num_threads(1)
    protocol.CACHE = Path(cache)
    start = time.perf_counter()
    teacher, split = protocol.teacher_for(data_dir, name, seed)
    X_test, y_test = split[4], split[5]
    return (
        name,
        seed,
        protocol._rmse(teacher, X_test, y_test),
        time.perf_counter() - start,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument(
        "--datasets", nargs="+", default=["compactiv", "cpusmall", "mv", "puma32h"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(1, 11)))
    parser.add_argument("--cache", default=str(protocol.CACHE))
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    work = [
        (args.data_dir, args.cache, n, s) for n in args.datasets for s in args.seeds
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, seed, test_rmse, seconds in pool.map(_train, work):
            print(
                f"{name:10s} seed {seed:2d}: test RMSE {test_rmse:.4f} ({seconds:.0f} s)"
            )


if __name__ == "__main__":
    main()
