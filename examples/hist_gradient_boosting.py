"""Compress a HistGradientBoosting model into a small network, with no data at all.

Run with ``python examples/hist_gradient_boosting.py`` (about 15 s on one CPU core).

A fitted ``HistGradientBoostingRegressor`` keeps the bin thresholds it splits each
feature at: dense where its training data was dense, at ``k + 0.5`` for integer
features. ``DataFreeDistillRegressor(teacher).fit()`` reads the input domain off those
thresholds and leaves (``domain_.source`` says so), queries the model there and, as
for every non-network teacher, trains a two-layer student (``hidden_layer_sizes_``).
The features here are raw, in mixed units, one of them an integer
count, as a boosting model usually sees them.
"""

import pickle
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score

from skdistill import DataFreeDistillRegressor


def make_data(n, seed):
    """Raw features in mixed units; the last one an integer count."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.lognormal(mean=3.0, sigma=0.5, size=n),  # e.g. a size in m²
            rng.normal(20.0, 8.0, size=n),  # e.g. a temperature
            rng.uniform(0.0, 1.0, size=n),  # a share
            rng.uniform(-100.0, 100.0, size=n),  # a coordinate
            rng.poisson(3.0, size=n).astype(float),  # a count
        ]
    )
    y = (
        np.log(X[:, 0]) * 2.0
        + np.sin(X[:, 1] / 5.0)
        + 3.0 * X[:, 2] ** 2
        + 0.01 * X[:, 3]
        + 0.5 * np.minimum(X[:, 4], 5)
        + rng.normal(0.0, 0.2, size=n)
    )
    return X, y


def main():
    X, y = make_data(5000, seed=0)
    teacher = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(X, y)
    del X, y  # from here on, the training data is gone

    start = time.perf_counter()
    distiller = DataFreeDistillRegressor(
        teacher,
        max_queries=60_000,
        random_state=0,
    ).fit()  # no data: the domain comes from the teacher's thresholds
    seconds = time.perf_counter() - start
    print(f"domain: {distiller.domain_.source}")
    print(f"distilled in {seconds:.1f} s with {distiller.n_teacher_queries_:,} queries")

    # Fresh rows from the same process, never seen by the distiller.
    X_new, y_new = make_data(20_000, seed=1)
    teacher_pred = teacher.predict(X_new)
    student_pred = distiller.predict(X_new)
    print(
        f"fidelity R2 (student vs teacher)  {r2_score(teacher_pred, student_pred):.4f}"
    )
    print(
        f"R2 vs truth  teacher {r2_score(y_new, teacher_pred):.4f}"
        f"   student {r2_score(y_new, student_pred):.4f}"
    )
    # The count's thresholds sit at k + 0.5, so its queries stay integer.
    print(
        f"integer features in the domain: {np.flatnonzero(distiller.domain_.integer)}"
    )

    teacher_bytes = len(pickle.dumps(teacher))
    student_bytes = len(pickle.dumps(distiller.student_))
    print(
        f"pickled size  teacher {teacher_bytes / 1e3:.0f} kB   student "
        f"{student_bytes / 1e3:.0f} kB ({teacher_bytes / student_bytes:.0f}x smaller)"
    )


if __name__ == "__main__":
    main()
