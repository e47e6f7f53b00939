"""GridSearchCV over distillations on a Dask cluster (joblib's "dask" backend).

Needs the ``dask`` extra (``dask[distributed]``); skipped without it.
"""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_validate

from skdistill import DataFreeDistillRegressor, fidelity_scorer

distributed = pytest.importorskip("distributed")

GRID = {"hidden_layer_sizes": [(8,), (16,)], "learning_rate": [1e-2]}


@pytest.fixture(scope="module")
def client():
    # Worker processes, one thread each: a distillation per core, each with its
    # own torch RNG and thread setting. (Thread workers in one process share
    # torch's global RNG, so concurrent fits are not bit-reproducible.)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _distiller(teacher):
    return DataFreeDistillRegressor(
        teacher, max_queries=6000, n_holdout=512, round_size=1024, random_state=0
    )


def test_grid_search_on_dask_equals_the_sequential_search(client, forest, friedman):
    X, _ = friedman
    fingerprint = joblib.hash(forest)

    def search(n_jobs):
        return GridSearchCV(
            _distiller(forest), GRID, scoring=fidelity_scorer, cv=2, n_jobs=n_jobs
        )

    sequential = search(1).fit(X)
    with joblib.parallel_backend("dask"):
        parallel = search(2).fit(X)

    assert len(client.scheduler_info()["workers"]) == 2
    assert parallel.cv_results_["params"] == sequential.cv_results_["params"]
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(
            parallel.cv_results_[key], sequential.cv_results_[key]
        )
    assert parallel.best_params_ == sequential.best_params_
    # The refit best distiller wraps the caller's teacher, which nothing changed.
    assert parallel.best_estimator_.teacher is forest
    assert joblib.hash(forest) == fingerprint


def test_workers_distill_the_shipped_teacher_without_refitting_it(
    client, forest, friedman
):
    X, _ = friedman
    fingerprint = joblib.hash(forest)
    with joblib.parallel_backend("dask"):
        cv = cross_validate(
            _distiller(forest),
            X,
            cv=2,
            scoring=fidelity_scorer,
            n_jobs=2,
            return_estimator=True,
        )
    for estimator in cv["estimator"]:  # fitted on the workers, sent back
        # A refit on a fold would have changed the forest's trees.
        assert joblib.hash(estimator.teacher) == fingerprint
        assert estimator.teacher is not forest  # a copy went to the worker
        assert estimator.n_teacher_queries_ <= 6000
    assert np.all(cv["test_score"] > 0.5)
