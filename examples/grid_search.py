"""Tune a distillation with GridSearchCV, choosing by fidelity to the teacher.

Run with ``python examples/grid_search.py`` (about 20 s on one CPU core).

``DataFreeDistillRegressor`` is a scikit-learn estimator, so ``GridSearchCV`` tunes
it. The fitted teacher is an input: ``clone`` keeps it by reference, so every
candidate distills the same fitted model and nothing refits it. Here each training
fold serves only as unlabelled domain rows (``fit(X)``), and
``scoring=fidelity_scorer`` scores each student against the teacher on the held-out
fold, so no label is needed anywhere: ``GridSearchCV(...).fit(X)`` without ``y``.
With labels, the default scoring is the R² against them instead.

Every candidate is an independent distillation: this is the work that outgrows one
machine; see ``examples/dask_grid_search.py`` for the same search on a Dask cluster.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import GridSearchCV

from skdistill import DataFreeDistillRegressor, fidelity_scorer


def main():
    X, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    teacher = RandomForestRegressor(n_estimators=50, random_state=0).fit(X, y)
    # Unlabelled rows, e.g. today's inputs from production: no labels are used.
    X_unlabelled, _ = make_friedman1(n_samples=1500, n_features=10, random_state=1)

    search = GridSearchCV(
        DataFreeDistillRegressor(teacher, max_queries=20_000, random_state=0),
        param_grid={
            "hidden_layer_sizes": [(16,), (64,)],
            "query_strategy": ["gaussian", "bounded_gap"],
        },
        scoring=fidelity_scorer,
        cv=3,
        n_jobs=1,  # see examples/dask_grid_search.py to spread the fits out
    )
    search.fit(X_unlabelled)  # no y

    results = pd.DataFrame(search.cv_results_)
    columns = ["param_hidden_layer_sizes", "param_query_strategy"]
    columns += ["mean_test_score", "std_test_score", "mean_fit_time", "rank_test_score"]
    with pd.option_context("display.width", 120, "display.precision", 4):
        print(results[columns].sort_values("rank_test_score").to_string(index=False))
    print(f"best: {search.best_params_}  fidelity R2 {search.best_score_:.4f}")

    # The refitted best distiller wraps the very same fitted teacher.
    best = search.best_estimator_
    assert best.teacher is teacher
    X_new, _ = make_friedman1(n_samples=5000, n_features=10, random_state=2)
    print(f"fidelity R2 on fresh rows: {fidelity_scorer(best, X_new):.4f}")
    print(f"student predictions: {np.round(best.predict(X_new[:3]), 3)}")


if __name__ == "__main__":
    main()
