"""Quickstart: compress a fitted random forest into a small network, without its data.

Run with ``python examples/quickstart.py``. It fits a teacher on synthetic data
(sklearn's Friedman #1), forgets the data, distills the teacher from the
feature ranges alone, and compares the two on fresh rows.
"""

import pickle
import time

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_squared_error, r2_score

from skdistill import DataFreeDistillRegressor


def median_seconds(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    X, y = make_friedman1(n_samples=3000, n_features=10, noise=1.0, random_state=0)
    teacher = RandomForestRegressor(n_estimators=100, random_state=0).fit(X, y)
    X_new, y_new = make_friedman1(
        n_samples=10_000, n_features=10, noise=1.0, random_state=1
    )

    # No training data from here on: only the features' known ranges.
    domain = {"low": np.zeros(10), "high": np.ones(10)}
    start = time.perf_counter()
    distiller = DataFreeDistillRegressor(
        teacher, domain=domain, max_queries=300_000, random_state=0
    ).fit()
    seconds = time.perf_counter() - start

    teacher_pred = teacher.predict(X_new)
    student_pred = distiller.predict(X_new)
    rmse = lambda a, b: mean_squared_error(a, b) ** 0.5  # noqa: E731
    print(
        f"distilled in {seconds:.1f} s with {distiller.n_teacher_queries_:,} teacher queries"
    )
    print(
        f"RMSE vs truth   teacher {rmse(y_new, teacher_pred):.3f}   student {rmse(y_new, student_pred):.3f}"
    )
    print(
        f"fidelity        R2 {r2_score(teacher_pred, student_pred):.4f}   RMSE {rmse(teacher_pred, student_pred):.3f}"
    )
    print(
        f"pickled size    teacher {len(pickle.dumps(teacher)) / 1e6:.2f} MB   "
        f"student {len(pickle.dumps(distiller.student_.module_)) / 1e6:.3f} MB"
    )
    t_teacher = median_seconds(lambda: teacher.predict(X_new))
    t_student = median_seconds(lambda: distiller.predict(X_new))
    print(
        f"predict 10k rows teacher {t_teacher * 1e3:.1f} ms   student {t_student * 1e3:.1f} ms "
        f"({t_teacher / t_student:.0f}x faster)"
    )


if __name__ == "__main__":
    main()
