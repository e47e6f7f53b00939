"""Which default student fits which kind of teacher: size and replay, data-free.

Distils zoo teachers (``teacher_zoo.py``'s tables and teachers) with every
default but the student's ``hidden_layer_sizes`` and ``n_passes``, and
reports the fidelity R² on the real test rows and the seconds per fit.
It chose the "auto" student per teacher kind.

Example::

    python benchmarks/experiments/student_size.py --data-dir ../shared/datasets \\
        --tables compactiv friedman1_coded --teachers rf hgb knn --jobs 2 \\
        --out benchmarks/results/student_size
"""

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import protocol  # noqa: E402
import teacher_zoo  # noqa: E402

CONFIGS = {
    "(50,) x8": {"hidden_layer_sizes": (50,), "n_passes": 8},
    "(64,64) x8": {"hidden_layer_sizes": (64, 64), "n_passes": 8},
    "(64,64) x16": {"hidden_layer_sizes": (64, 64), "n_passes": 16},
    "(128,128) x8": {"hidden_layer_sizes": (128, 128), "n_passes": 8},
    "(256,256) x8": {"hidden_layer_sizes": (256, 256), "n_passes": 8},
}


def _task(args):
    table, teacher_name, data_dir, configs, mode = args
    import torch
    from sklearn.metrics import r2_score

    from skdistill import DataFreeDistillRegressor

    torch.set_num_threads(1)
    X_train, X_test, y_train, _ = teacher_zoo.TABLES[table](data_dir)
    teacher, _ = teacher_zoo.TEACHERS[teacher_name](X_train, y_train)
    y_teacher = teacher.predict(X_test)
    rows = []
    for name in configs:
        start = time.perf_counter()
        d = DataFreeDistillRegressor(teacher, random_state=0, **CONFIGS[name])
        d.fit() if mode == "fit()" else d.fit(X_train)
        seconds = time.perf_counter() - start
        rows.append(
            [
                table,
                teacher_name,
                mode,
                name,
                r2_score(y_teacher, d.predict(X_test)),
                d.history_[-1, "holdout_r2"],
                seconds,
            ]
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--tables", nargs="+", default=["compactiv", "friedman1_coded"])
    parser.add_argument("--teachers", nargs="+", default=["rf", "hgb", "knn"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--mode", default="fit()", choices=["fit()", "fit(X)"])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/student_size")
    args = parser.parse_args()
    work = [
        (t, k, args.data_dir, args.configs, args.mode)
        for t in args.tables
        for k in args.teachers
    ]
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for result in pool.map(_task, work):
            for row in result:
                print(
                    " ".join(
                        f"{v:.4f}" if isinstance(v, float) else str(v) for v in row
                    ),
                    flush=True,
                )
            rows += result
    header = [
        "table",
        "teacher",
        "mode",
        "student",
        "fidelity_r2",
        "holdout_r2",
        "seconds",
    ]
    protocol.write_csv(args.out + ".csv", header, rows)
    medians = []
    for name in args.configs:
        fid = [r[4] for r in rows if r[3] == name]
        sec = [r[6] for r in rows if r[3] == name]
        medians.append(
            [
                name,
                f"{np.median(fid):.4f}",
                f"{np.min(fid):.4f}",
                f"{np.median(sec):.1f}",
            ]
        )
    table = ["| student | median fidelity | worst | median s |", "|---|---|---|---|"]
    table += ["| " + " | ".join(m) + " |" for m in medians]
    table += [
        "",
        "| table | teacher | " + " | ".join(args.configs) + " |",
        "|---|---|" + "---|" * len(args.configs),
    ]
    for t in args.tables:
        for k in args.teachers:
            vals = [
                next(
                    (
                        f"{r[4]:.4f}"
                        for r in rows
                        if r[0] == t and r[1] == k and r[3] == c
                    ),
                    "",
                )
                for c in args.configs
            ]
            table.append(f"| {t} | {k} | " + " | ".join(vals) + " |")
    protocol.write_markdown(
        args.out + ".md",
        "\n".join(table),
        preamble=f"Mode {args.mode}, every default but the student's.\n\n",
    )


if __name__ == "__main__":
    main()
