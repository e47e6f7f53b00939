"""Ablation of our defaults on the paper's teachers, no labelled data anywhere.

Each variant changes one thing from ``DataFreeDistillRegressor(teacher).fit()``
(50-unit student) and is scored on the real test rows: RMSE / teacher RMSE and
fidelity (student vs teacher RMSE), per dataset, mean over seeds.

Example (the table in ``results/paper_table_ablation.md``)::

    python benchmarks/ablation.py --data-dir ../shared/datasets --seeds 1 2 \\
        --out benchmarks/results/paper_table_ablation
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from protocol import machine_line, rmse, teacher_for, write_markdown  # noqa: E402

from skdistill import BoundedGapQueries, DataFreeDistillRegressor  # noqa: E402

# name -> (estimator parameters, BoundedGapQueries parameters)
VARIANTS = {
    "defaults": ({}, {}),
    "plain N(0, 1) base queries (scale_mixture=0)": ({}, {"scale_mixture": 0.0}),
    "every row rescaled (scale_mixture=1)": ({}, {"scale_mixture": 1.0}),
    "narrow mixture (scale_range=(0.125, 2))": ({}, {"scale_range": (0.125, 2.0)}),
    "wide mixture (scale_range=(0.25, 8))": ({}, {"scale_range": (0.25, 8.0)}),
    "800k queries, 4 passes (same student steps)": (
        {"max_queries": 800_000, "n_passes": 4},
        {},
    ),
    "batch 1024 (a quarter of the steps)": ({"batch_size": 1024}, {}),
    "no query ascent (alpha=0)": ({}, {"alpha": 0.0}),
    "smaller ascent steps (step_size=0.02)": ({}, {"step_size": 0.02}),
    "a quarter of queries ascend (alpha=0.25)": ({}, {"alpha": 0.25}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument(
        "--datasets", nargs="+", default=["compactiv", "cpusmall", "mv", "puma32h"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="write OUT.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {machine_line()}", flush=True)
    results = {}  # (variant, dataset) -> list of (ratio, fidelity, seconds)
    for name in args.datasets:
        for seed in args.seeds:
            teacher, (*_, X_te, y_te) = teacher_for(args.data_dir, name, seed)
            with torch.no_grad():
                t_test = teacher(torch.as_tensor(X_te)).numpy().ravel()
            for variant in args.variants:
                params, strategy = VARIANTS[variant]
                d = DataFreeDistillRegressor(
                    teacher,
                    query_strategy=BoundedGapQueries(**strategy),
                    hidden_layer_sizes=(50,),
                    random_state=seed,
                    **params,
                )
                start = time.perf_counter()
                d.fit()
                seconds = time.perf_counter() - start
                pred = d.predict(X_te)
                ratio = rmse(pred, y_te) / rmse(t_test, y_te)
                fid = rmse(pred, t_test)
                results.setdefault((variant, name), []).append((ratio, fid, seconds))
                print(
                    f"{name:10s} s{seed} {variant:45s} ratio {ratio:.4f} "
                    f"fid {fid:.4f} {seconds:5.1f}s",
                    flush=True,
                )
    header = "| variant | " + " | ".join(args.datasets) + " | mean | seconds |"
    lines = [header, "|---" * (len(args.datasets) + 3) + "|"]
    for variant in args.variants:
        cells, ratios, seconds = [], [], []
        for name in args.datasets:
            r = np.array(results[(variant, name)])
            ratios += list(r[:, 0])
            seconds += list(r[:, 2])
            cells.append(f"{r[:, 0].mean():.3f} ({r[:, 1].mean():.4f})")
        lines.append(
            f"| {variant} | "
            + " | ".join(cells)
            + f" | {np.mean(ratios):.3f} | {np.median(seconds):.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        preamble = (
            "Cells: RMSE / teacher RMSE on the real test rows (fidelity RMSE, "
            f"student vs teacher), mean over seeds {args.seeds}; 'mean' over all "
            "datasets and seeds; 'seconds' is the median fit time. 50-unit "
            "student, no labelled data.\n\n"
        )
        write_markdown(args.out, table, preamble)


if __name__ == "__main__":
    main()
