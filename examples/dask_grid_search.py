"""Spread a GridSearchCV over distillations across a Dask cluster.

Run with ``python examples/dask_grid_search.py`` (about 20 s: it starts a local
cluster of two worker processes), or against a running cluster with
``python examples/dask_grid_search.py tcp://scheduler:8786``. Needs the ``dask``
extra: ``python -m pip install -c constraints.txt -e ".[dask]"``.

Every candidate and fold of a search is an independent distillation, so the search
scales out by handing joblib's tasks to Dask workers: ``GridSearchCV(...,
n_jobs=...)`` inside ``joblib.parallel_backend("dask")``. The fitted teacher travels
to the workers inside each pickled candidate (it is never refit there), and each
worker process trains its students on one torch thread. With a fixed
``random_state``, the scores equal those of the same search run sequentially.
See docs/scale-out.md for a real cluster.
"""

import sys
import time

import joblib
import pandas as pd
from distributed import Client, LocalCluster
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import GridSearchCV

from skdistill import DataFreeDistillRegressor, fidelity_scorer


def main(address=None):
    X, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    teacher = RandomForestRegressor(n_estimators=50, random_state=0).fit(X, y)
    X_unlabelled, _ = make_friedman1(n_samples=1000, n_features=10, random_state=1)

    search = GridSearchCV(
        DataFreeDistillRegressor(teacher, max_queries=15_000, random_state=0),
        param_grid={
            "hidden_layer_sizes": [(16,), (64,)],
            "learning_rate": [3e-3, 1e-2],
        },
        scoring=fidelity_scorer,
        cv=2,
        n_jobs=-1,  # as many tasks at once as the cluster has worker threads
    )

    if address is None:
        # Worker *processes* with one thread each: one distillation per core.
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        cluster, client = None, Client(address)
    try:
        print(f"workers: {len(client.scheduler_info()['workers'])}")
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X_unlabelled)
        n_fits = len(search.cv_results_["params"]) * search.n_splits_
        print(f"{n_fits} distillations in {time.perf_counter() - start:.1f} s")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    results = pd.DataFrame(search.cv_results_)
    columns = ["param_hidden_layer_sizes", "param_learning_rate", "mean_test_score"]
    print(results[columns].to_string(index=False))
    print(f"best: {search.best_params_}  fidelity R2 {search.best_score_:.4f}")
    assert search.best_estimator_.teacher is teacher  # refit here, same teacher


if __name__ == "__main__":  # required: worker processes re-import this file
    main(sys.argv[1] if len(sys.argv) > 1 else None)
