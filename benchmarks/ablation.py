"""Ablation of our defaults on the paper's teachers, no labelled data anywhere.

Each variant changes one thing from ``DataFreeDistillRegressor(teacher).fit()``
(50-unit student) and is scored on the real test rows: RMSE / teacher RMSE and
fidelity (student vs teacher RMSE), per dataset, mean over seeds.

Example (the table in ``results/paper_table_ablation.md``)::

    python benchmarks/ablation.py --data-dir ../shared/datasets --seeds 1 2 \\
        --jobs 2 --out benchmarks/results/paper_table_ablation
"""

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from protocol import (  # noqa: E402
    DATASETS,
    add_data_arguments,
    add_task_arguments,
    rmse,
    run_tasks,
    teacher_for,
    write_csv,
    write_markdown,
)

from skdistill import (  # noqa: E402
    BoundedGapQueries,
    DataFreeDistillRegressor,
    InputDomain,
)

# name -> (estimator parameters, BoundedGapQueries parameters)
VARIANTS = {
    "defaults": ({}, {}),
    "the paper's schedule (alpha='linear', the old default)": (
        {},
        {"alpha": "linear"},
    ),
    "the paper's queries in our loop (alpha='linear', scale_mixture=0)": (
        {},
        {"alpha": "linear", "scale_mixture": 0.0},
    ),
    "no query ascent (alpha=0)": ({}, {"alpha": 0.0}),
    "a tenth of queries ascend (alpha=0.1)": ({}, {"alpha": 0.1}),
    "half of queries ascend (alpha=0.5)": ({}, {"alpha": 0.5}),
    "plain N(0, 1) base queries (scale_mixture=0)": ({}, {"scale_mixture": 0.0}),
    "one factor per query, not per feature (rescale='row', the old default)": (
        {},
        {"rescale": "row"},
    ),
    "every draw rescaled (scale_mixture=1)": ({}, {"scale_mixture": 1.0}),
    "a tenth of the draws rescaled (scale_mixture=0.1)": ({}, {"scale_mixture": 0.1}),
    "a fifth of the draws rescaled (scale_mixture=0.2)": ({}, {"scale_mixture": 0.2}),
    "3 in 10 draws rescaled (scale_mixture=0.3)": ({}, {"scale_mixture": 0.3}),
    "4 in 10 draws rescaled (scale_mixture=0.4)": ({}, {"scale_mixture": 0.4}),
    "wide mixture (scale_range=(0.25, 8))": ({}, {"scale_range": (0.25, 8.0)}),
    "narrow mixture (scale_range=(0.25, 2))": ({}, {"scale_range": (0.25, 2.0)}),
    "the ascent in float32 (ascent_precision='float32', the old default)": (
        {},
        {"ascent_precision": "float32"},
    ),
    "smaller ascent steps (step_size=0.02)": ({}, {"step_size": 0.02}),
    "three ascent steps (n_steps=3)": ({}, {"n_steps": 3}),
    "a stronger pull to the origin in the ascent (beta=0.1)": ({}, {"beta": 0.1}),
    "a stronger student-output penalty in the ascent (gamma=0.01)": (
        {},
        {"gamma": 0.01},
    ),
    "35% of queries ascend (alpha=0.35)": ({}, {"alpha": 0.35}),
    "a hold-out 4 times larger (n_holdout=8192)": ({"n_holdout": 8192}, {}),
    "one ascent step (n_steps=1)": ({}, {"n_steps": 1}),
    "one ascent step, twice as long (n_steps=1, step_size=0.2)": (
        {},
        {"n_steps": 1, "step_size": 0.2},
    ),
    "no replay window (replay_rounds=1, the old default)": ({"replay_rounds": 1}, {}),
    "a window of 4 rounds (replay_rounds=4)": ({"replay_rounds": 4}, {}),
    "a window of 16 rounds (replay_rounds=16)": ({"replay_rounds": 16}, {}),
    "batch 256 (the old default: twice the steps, learning rate / 1.41 by 'auto')": (
        {"batch_size": 256},
        {},
    ),
    "batch 512 at the old learning rate ('auto' / 1.41)": (
        {"lr_factor": 2**-0.5},
        {},
    ),
    "learning rate x1.41 ('auto' x 1.41, twice the old)": ({"lr_factor": 2**0.5}, {}),
    "16 passes (twice the steps)": ({"n_passes": 16}, {}),
    "600k queries (1.5 times the steps)": ({"max_queries": 600_000}, {}),
    "800k queries (twice the steps)": ({"max_queries": 800_000}, {}),
    "200k queries, 16 passes (same steps, half the teacher calls)": (
        {"max_queries": 200_000, "n_passes": 16},
        {},
    ),
    "300k queries, 11 passes (about the same steps, 3/4 of the teacher calls)": (
        {"max_queries": 300_000, "n_passes": 11},
        {},
    ),
    "100k queries, 32 passes (same steps, a quarter of the teacher calls)": (
        {"max_queries": 100_000, "n_passes": 32},
        {},
    ),
    "200k queries, 16 passes, replay_rounds=16 (same steps and window)": (
        {"max_queries": 200_000, "n_passes": 16, "replay_rounds": 16},
        {},
    ),
    "batch 384 (3/4 of the old steps, 4/3 of the new)": ({"batch_size": 384}, {}),
    "1.6M queries, round_size=1024, 2 passes (same steps, fresher ascent)": (
        {"max_queries": 1_600_000, "round_size": 1024, "n_passes": 2},
        {},
    ),
    "round_size=1024 (queries ascend against a fresher student)": (
        {"round_size": 1024},
        {},
    ),
    "learning_rate=1e-2 on every dataset (the old default)": (
        {"learning_rate": 1e-2},
        {},
    ),
    "no learning-rate warm-up (learning_rate_warmup=0, the old default)": (
        {"learning_rate_warmup": 0.0},
        {},
    ),
    "learning_rate=2e-2": ({"learning_rate": 2e-2}, {}),
    "learning_rate=3e-3": ({"learning_rate": 3e-3}, {}),
    "learning_rate=1e-3": ({"learning_rate": 1e-3}, {}),
    "random student weights (student_init='random', the old default)": (
        {"student_init": "random"},
        {},
    ),
    "always from the teacher's first layer (student_init='teacher')": (
        {"student_init": "teacher"},
        {},
    ),
    "copy the teacher on every input (noise_features=None, the old default)": (
        {"noise_features": None},
        {},
    ),
    "noise features averaged, but rescaled and steered like the others": (
        {"rescaled_noise": True},
        {},
    ),
}


@contextmanager
def _naive_noise_queries(naive):
    """With ``naive``, queries treat the averaged features like any other.

    The student still ignores them, but the base queries rescale them and the
    gap ascent moves them: what averaging over them costs without drawing
    them from the base distribution only.
    """
    if not naive:
        yield
        return
    averaged = InputDomain.averaged
    InputDomain.averaged = property(lambda self: np.zeros(self.n_features, bool))
    try:
        yield
    finally:
        InputDomain.averaged = averaged


def run_task(task):
    """Every variant on one dataset and seed, in one process."""
    name, seed, args = task
    torch.set_num_threads(args.threads)
    teacher, (*_, X_te, y_te) = teacher_for(args.data_dir, name, seed)
    with torch.no_grad():
        t_test = teacher(torch.as_tensor(X_te)).numpy().ravel()
    rows = []
    for variant in args.variants:
        params, strategy = VARIANTS[variant]
        if "lr_factor" in params:
            # The "auto" learning rate (every feature of these teachers
            # varies), scaled.
            params = dict(params)
            factor = params.pop("lr_factor")
            batch_size = params.get("batch_size", 512)
            auto = (
                1e-2 * (batch_size / 256) ** 0.5 * min(1.0, (16 / X_te.shape[1]) ** 0.5)
            )
            params["learning_rate"] = auto * factor
        naive = bool(params.get("rescaled_noise"))
        params = {k: v for k, v in params.items() if k != "rescaled_noise"}
        d = DataFreeDistillRegressor(
            teacher,
            query_strategy=BoundedGapQueries(**strategy),
            hidden_layer_sizes=(50,),
            random_state=seed,
            **params,
        )
        start = time.perf_counter()
        with _naive_noise_queries(naive):
            d.fit()
        seconds = time.perf_counter() - start
        pred = d.predict(X_te)
        ratio = rmse(pred, y_te) / rmse(t_test, y_te)
        fid = rmse(pred, t_test)
        rows.append((variant, name, ratio, fid, seconds))
        print(
            f"{name:10s} s{seed} {variant:45s} ratio {ratio:.4f} "
            f"fid {fid:.4f} {seconds:5.1f}s",
            flush=True,
        )
    return rows


def _paired(results, args):
    """Each variant against the defaults, seed by seed (when both ran)."""
    if "defaults" not in args.variants or len(args.variants) < 2:
        return ""
    lines = [
        "",
        "",
        "Paired with the defaults, seed by seed: mean change in RMSE / teacher "
        "(± standard error of the paired differences), and the seeds on which the "
        "fidelity error was lower than the defaults'.",
        "",
        "| variant | " + " | ".join(args.datasets) + " |",
        "|---" * (len(args.datasets) + 1) + "|",
    ]
    for variant in args.variants:
        if variant == "defaults":
            continue
        cells = []
        for name in args.datasets:
            base = np.array(results[("defaults", name)])
            other = np.array(results[(variant, name)])
            diff = other[:, 0] - base[:, 0]
            se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.nan
            lower = int(np.sum(other[:, 1] < base[:, 1]))
            cells.append(f"{diff.mean():+.3f} ± {se:.3f}, {lower} of {len(diff)}")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _coupling(results, args):
    """How closely RMSE follows fidelity on each dataset, across the variants.

    Within each seed (same teacher), the variants' fidelity errors and RMSE
    ratios are centred on their seed's means; the correlation and slope of
    the pooled centred pairs say whether a variant that copies the teacher
    more closely also predicts the truth better there.
    """
    if len(args.variants) < 3:
        return ""
    lines = [
        "",
        "",
        "Fidelity and RMSE across the variants: both centred on each seed's "
        "mean over the variants, pooled over seeds; the correlation, and the "
        "change in RMSE / teacher per 0.01 of fidelity error (least squares).",
        "",
        "| dataset | correlation | RMSE / teacher per 0.01 fidelity | pairs |",
        "|---|---|---|---|",
    ]
    for name in args.datasets:
        # (variants, seeds, [ratio, fidelity, seconds])
        r = np.array([results[(variant, name)] for variant in args.variants])
        centred = r[:, :, :2] - r[:, :, :2].mean(axis=0)
        ratio, fid = centred[..., 0].ravel(), centred[..., 1].ravel()
        corr = np.corrcoef(fid, ratio)[0, 1]
        slope = np.dot(fid, ratio) / np.dot(fid, fid)
        lines.append(f"| {name} | {corr:.2f} | {0.01 * slope:+.4f} | {ratio.size} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser, DATASETS[:4])
    add_task_arguments(parser, seeds=[1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.csv")
    args = parser.parse_args()
    done = run_tasks(run_task, args)
    results = {}  # (variant, dataset) -> list of (ratio, fidelity, seconds)
    for rows in done:
        for variant, name, *scores in rows:
            results.setdefault((variant, name), []).append(scores)
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
    table = "\n".join(lines) + _paired(results, args) + _coupling(results, args)
    print(table)
    if args.out:
        write_csv(
            args.out,
            ["variant", "dataset", "seed", "ratio", "fidelity", "seconds"],
            (
                [variant, name, seed, *scores]
                for variant in args.variants
                for name in args.datasets
                for seed, scores in zip(args.seeds, results[(variant, name)])
            ),
        )
        preamble = (
            "Cells: RMSE / teacher RMSE on the real test rows (fidelity RMSE, "
            f"student vs teacher), mean over seeds {args.seeds}; 'mean' over all "
            "datasets and seeds; 'seconds' is the median fit time. 50-unit "
            f"student, no labelled data. {args.jobs} job(s) of {args.threads} torch "
            "thread(s) side by side, so seconds compare within this table only.\n\n"
        )
        write_markdown(args.out, table, preamble)


if __name__ == "__main__":
    main()
