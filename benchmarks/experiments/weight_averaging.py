"""Would a moving average of the student's weights be a better student?

For each dataset and seed, one default fit (``DataFreeDistillRegressor(teacher)
.fit()``, 50-unit student, no data) also keeps exponential moving averages of
the student's weights over its steps, one per ``--decays`` value (weight
``max(1 - decay, 1 / (t + 1))`` on step ``t``: a plain mean of the steps so
far until ``1 / (1 - decay)`` steps, then an exponential average over about
that many steps, through ``torch.optim.swa_utils.AveragedModel``). After the
fit, each average is put in the student in turn and scored on the real test
rows, and on the fit's own synthetic hold-out queries (``n_holdout``, scored
against the teacher: what a data-free fit could choose by). The row
``chosen on the hold-out`` takes, per fit, whichever of the fitted student and
the averages has the lowest hold-out loss. A second fit per dataset and seed
lowers the floor of the student's cosine learning-rate schedule from 1/100 to
``--floor`` of its start, with no averaging.

Example (``benchmarks/results/weight_averaging.md``)::

    python benchmarks/experiments/weight_averaging.py --data-dir ../shared/datasets \\
        --seeds 1 2 3 4 5 6 7 8 9 10 --jobs 2 --out benchmarks/results/weight_averaging
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel

sys.path.insert(0, str(Path(__file__).parent.parent))
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

from skdistill import DataFreeDistillRegressor  # noqa: E402

DEFAULTS = "defaults (the fitted student)"
CHOSEN = "chosen on the hold-out (data-free)"


def _averaging(decay):
    def avg_fn(averaged, current, n_averaged):
        weight = max(1.0 - decay, 1.0 / (float(n_averaged) + 1.0))
        return averaged + (current - averaged) * weight

    return avg_fn


class WeightAverages(Callback):
    """Moving averages of the net's weights, one per decay, after every step."""

    def __init__(self, decays):
        self.decays = decays

    def on_train_begin(self, net, **kwargs):
        self.module_ = net.module_  # the bare module the steps train
        self.averages_ = [
            AveragedModel(net.module_, avg_fn=_averaging(decay))
            for decay in self.decays
        ]

    def on_batch_end(self, net, training=True, **kwargs):
        if training:
            for average in self.averages_:
                average.update_parameters(net.module_)


class _Distiller(DataFreeDistillRegressor):
    """The defaults, with averages kept beside the student or a lower floor.

    A benchmark-only subclass: it adds one callback to the student's rounds
    or changes the floor of the learning-rate schedule, nothing else. The two
    settings are plain attributes, set after construction (scikit-learn's
    parameters are those of the parent's ``__init__``).
    """

    decays = ()
    floor = None

    def _round_callbacks(self, *args, **kwargs):
        callbacks = super()._round_callbacks(*args, **kwargs)
        if self.decays:
            callbacks.append(("averages", WeightAverages(self.decays)))
        return callbacks

    def _build_student(self, *args, **kwargs):
        student = super()._build_student(*args, **kwargs)
        if self.floor is not None:
            schedule = dict(student.callbacks)["lr_schedule"]
            schedule.eta_min = self.learning_rate_ * self.floor
        return student


def _holdout_loss(distiller):
    """The fit's model-selection criterion for the student's current weights."""
    holdout = dict(distiller.student_.callbacks_)["holdout_fidelity"]
    return holdout.score(holdout.module)["holdout_loss"]


def run_task(task):
    """One averaged fit and one lower-floor fit on one dataset and seed."""
    name, seed, args = task
    torch.set_num_threads(args.threads)
    teacher, (*_, X_test, y_test) = teacher_for(args.data_dir, name, seed)
    with torch.no_grad():
        t_test = teacher(torch.as_tensor(X_test)).numpy().ravel()
    t_rmse = rmse(t_test, y_test)

    def score(distiller):
        pred = distiller.predict(X_test)
        return {
            "ratio": rmse(pred, y_test) / t_rmse,
            "rmse": rmse(pred, y_test),
            "fidelity": rmse(pred, t_test),
            "holdout": _holdout_loss(distiller),
        }

    params = {"hidden_layer_sizes": (50,), "random_state": seed}
    start = time.perf_counter()
    averaged = _Distiller(teacher, **params)
    averaged.decays = tuple(args.decays)
    averaged.fit()
    seconds = time.perf_counter() - start
    # Was the student still improving at the end? The hold-out loss some
    # rounds before the last, over the last.
    losses = [entry["holdout_loss"] for entry in averaged.history_]
    trend = losses[-1 - min(args.trend_rounds, len(losses) - 1)] / losses[-1]
    results = {DEFAULTS: score(averaged)}
    callback = dict(averaged.student_.callbacks_)["averages"]
    module = callback.module_  # inside the fitted student's standardisation
    for decay, average in zip(args.decays, callback.averages_):
        module.load_state_dict(average.module.state_dict())
        results[f"moving average, decay {decay:g}"] = score(averaged)
    results[CHOSEN] = min(results.values(), key=lambda r: r["holdout"])
    floor = _Distiller(teacher, **params)
    floor.floor = args.floor
    floor.fit()
    results[f"schedule floor {args.floor:g} of the start (no averaging)"] = score(floor)
    print(
        f"{name:10s} s{seed} {seconds:5.1f}s "
        + " ".join(f"{r['ratio']:.4f}/{r['fidelity']:.4f}" for r in results.values()),
        flush=True,
    )
    return name, seed, results, trend


def _trend_table(done, datasets, rounds):
    lines = [
        f"| dataset | hold-out loss {rounds} rounds before the end / at the end: "
        "min | median | max | fits in which the hold-out chose an average |",
        "|---|---|---|---|---|",
    ]
    for name in datasets:
        tasks = [t for t in done if t[0] == name]
        trend = np.array([t[3] for t in tasks])
        averaged = sum(
            t[2][CHOSEN]["holdout"] != t[2][DEFAULTS]["holdout"] for t in tasks
        )
        lines.append(
            f"| {name} | {trend.min():.3f} | {np.median(trend):.3f} | "
            f"{trend.max():.3f} | {averaged} of {len(tasks)} |"
        )
    return "\n".join(lines)


def _table(done, datasets):
    lines = [
        "| dataset | student | RMSE | RMSE / teacher | fidelity RMSE | fidelity "
        "lower than the defaults' | hold-out loss |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = []
    for name in datasets:
        tasks = [t[2] for t in done if t[0] == name]
        for variant in tasks[0]:
            r = {k: np.array([t[variant][k] for t in tasks]) for k in tasks[0][variant]}
            base = np.array([t[DEFAULTS]["fidelity"] for t in tasks])
            lower = (
                "" if variant == DEFAULTS else f"{int(np.sum(r['fidelity'] < base))}"
            )
            lines.append(
                f"| {name} | {variant} | {r['rmse'].mean():.4f} | "
                f"{r['ratio'].mean():.4f} ± {r['ratio'].std():.4f} | "
                f"{r['fidelity'].mean():.4f} | "
                f"{lower + ' of ' + str(len(tasks)) if lower else ''} | "
                f"{r['holdout'].mean():.3g} |"
            )
            rows += [
                (name, seed, variant, *(t[variant][k] for k in tasks[0][variant]))
                for seed, t in zip([d[1] for d in done if d[0] == name], tasks)
            ]
    return "\n".join(lines), rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser, DATASETS)
    add_task_arguments(parser, seeds=[1, 2, 3])
    parser.add_argument(
        "--decays", nargs="+", type=float, default=[0.998, 0.999, 0.9995]
    )
    parser.add_argument(
        "--floor", type=float, default=1e-3, help="the lower-floor fit's eta_min / lr"
    )
    parser.add_argument(
        "--trend-rounds",
        type=int,
        default=16,
        help="the hold-out trend: loss this many rounds before the end / at the end",
    )
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.csv")
    args = parser.parse_args()
    start = time.perf_counter()
    done = run_tasks(run_task, args)
    table, rows = _table(done, args.datasets)
    table += "\n\n" + _trend_table(done, args.datasets, args.trend_rounds)
    print(table)
    if args.out:
        write_csv(
            args.out,
            ["dataset", "seed", "student", "ratio", "rmse", "fidelity", "holdout"],
            rows,
        )
        preamble = (
            f"Seeds {args.seeds}; 50-unit student; no labels anywhere. RMSE against "
            "the true target and fidelity (student vs teacher RMSE) on the real "
            "test rows, means over seeds (RMSE / teacher: mean ± std). 'hold-out "
            "loss' is the fit's own data-free model-selection criterion (synthetic "
            "queries scored against the teacher, standardised MSE). The second "
            "table asks whether the student was still improving at the end, "
            "where an average lags behind it. Total wall "
            f"time {time.perf_counter() - start:.0f} s with {args.jobs} job(s) of "
            f"{args.threads} torch thread(s).\n\n"
        )
        write_markdown(args.out, table, preamble)


if __name__ == "__main__":
    main()
