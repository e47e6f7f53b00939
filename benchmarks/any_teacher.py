"""Distill everyday scikit-learn teachers on raw features, with no data at all.

For each shared dataset (raw, unscaled features; 5000 training rows by
``--seed``; up to 5000 test rows), fit five teachers — RandomForest(300),
HistGradientBoosting, SVR, KNeighbors and Pipeline(StandardScaler,
MLPRegressor) — then distill each with ``DataFreeDistillRegressor(teacher).fit()``:
no rows, no labels; the domain is whatever the teacher reveals (``domain_``).
Reports fidelity R² (student vs teacher) on the real test rows, distillation
seconds, teacher queries, the student's predict speed-up on 10k rows (median
of 5) and the pickled-size shrink (teacher vs the student's module), for
``bounded_gap`` vs ``gaussian`` and ``uniform`` in the same inferred domain.

Example::

    python benchmarks/any_teacher.py --data-dir ../shared/datasets \\
        --out benchmarks/results/any_teacher
"""

import argparse
import pickle
import sys
import time
from itertools import product
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

sys.path.insert(0, str(Path(__file__).parent))
from protocol import machine_line, median_seconds, write_markdown  # noqa: E402

from skdistill import DataFreeDistillRegressor  # noqa: E402

TEACHERS = {
    "RandomForest(300)": lambda: RandomForestRegressor(
        n_estimators=300, random_state=0, n_jobs=2
    ),
    "HistGradientBoosting": lambda: HistGradientBoostingRegressor(random_state=0),
    "SVR": lambda: SVR(),
    "KNeighbors": lambda: KNeighborsRegressor(),
    "Pipeline(StandardScaler, MLP)": lambda: make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(100,), max_iter=300, random_state=0),
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument(
        "--datasets", nargs="+", default=["compactiv", "cpusmall", "mv", "puma32h"]
    )
    parser.add_argument("--teachers", nargs="+", default=list(TEACHERS))
    parser.add_argument(
        "--strategies", nargs="+", default=["bounded_gap", "gaussian", "uniform"]
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-queries", type=int, default=100_000)
    parser.add_argument("--n-passes", type=int, default=16)
    parser.add_argument("--hidden", nargs="+", type=int, default=[64, 64])
    parser.add_argument(
        "--student-init",
        nargs="+",
        default=["auto"],
        choices=["auto", "teacher", "random"],
        help="student_init values to compare (a row each)",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    settings = dict(
        max_queries=args.max_queries,
        n_passes=args.n_passes,
        hidden_layer_sizes=tuple(args.hidden),
    )
    print(f"# {machine_line()}\n# distiller settings: {settings}", flush=True)
    lines = [
        "| dataset | teacher | strategy | student start | fidelity R² | seconds | "
        "teacher queries | predict speed-up (10k rows) | size shrink | domain source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets:
        data = np.load(Path(args.data_dir) / f"{name}.npz", allow_pickle=False)
        X, y = data["X"].astype(np.float64), data["y"]
        X_train, X_test, y_train, _ = train_test_split(
            X, y, train_size=5000, random_state=args.seed
        )
        X_test = X_test[:5000]
        X_speed = np.resize(X_test, (10_000, X.shape[1]))
        for teacher_name in args.teachers:
            teacher = TEACHERS[teacher_name]().fit(X_train, y_train)
            if hasattr(teacher, "n_jobs"):
                teacher.set_params(n_jobs=None)  # predict as a default model does
            target = teacher.predict(X_test)
            t_teacher = median_seconds(lambda t=teacher: t.predict(X_speed))
            teacher_bytes = len(pickle.dumps(teacher))
            for strategy, student_init in product(args.strategies, args.student_init):
                d = DataFreeDistillRegressor(
                    teacher,
                    query_strategy=strategy,
                    student_init=student_init,
                    random_state=0,
                    **settings,
                )
                start = time.perf_counter()
                d.fit()
                seconds = time.perf_counter() - start
                fidelity = r2_score(target, d.predict(X_test))
                t_student = median_seconds(lambda d=d: d.predict(X_speed))
                student_bytes = len(pickle.dumps(d.student_.module_))
                line = (
                    f"| {name} | {teacher_name} | {strategy} | "
                    f"{d.student_init_['method']} | {fidelity:.4f} | "
                    f"{seconds:.1f} | {d.n_teacher_queries_:,} | "
                    f"{t_teacher / t_student:.0f}x | {teacher_bytes / student_bytes:.0f}x | "
                    f"{d.domain_.source.split(':')[0]}: "
                    f"{d.domain_.distribution} |"
                )
                print(line, flush=True)
                lines.append(line)
                if args.out:  # after every row, so a cut-short run keeps its rows
                    write_markdown(
                        args.out,
                        "\n".join(lines),
                        f"Distiller settings: {settings} (everything else default; "
                        "`fit()` with no data).\n\n",
                    )
    print(f"# {machine_line()}")


if __name__ == "__main__":
    main()
