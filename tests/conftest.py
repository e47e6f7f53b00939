import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from torch import nn

# Tiny networks gain nothing from a second thread, and two threads per
# process slow down sharply whenever another process wants a core.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def friedman():
    """Friedman #1: 10 features in [0, 1], 5 of them informative."""
    return make_friedman1(n_samples=600, n_features=10, noise=0.5, random_state=0)


@pytest.fixture(scope="session")
def forest(friedman):
    X, y = friedman
    return RandomForestRegressor(n_estimators=20, max_depth=8, random_state=0).fit(X, y)


@pytest.fixture(scope="session")
def friedman_bounds(friedman):
    X, _ = friedman
    return {"low": X.min(axis=0), "high": X.max(axis=0)}


# A small budget that still gives a usable student in a second or two.
FAST = dict(max_queries=4000, round_size=512, n_holdout=512, random_state=0)


@pytest.fixture(scope="session")
def distiller(forest, friedman_bounds):
    """The forest distilled once for the session; tests must not modify it."""
    from skdistill import DataFreeDistillRegressor

    return DataFreeDistillRegressor(forest, domain=friedman_bounds, **FAST).fit()


def make_mlp(n_features=8, hidden=32, n_outputs=1, seed=0):
    """A random tanh MLP: a white-box teacher on standardised inputs."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, n_outputs)
    )


def make_context(domain, teacher=None, student=None):
    """A QueryContext on CPU for a strategy or QueryRounds to work in (seed 0).

    The teacher defaults to a random MLP, the student to another.
    """
    from skdistill import QueryContext
    from skdistill._teachers import as_teacher

    n = domain.n_features
    teacher = teacher if teacher is not None else make_mlp(n, seed=1)
    return QueryContext(
        teacher=as_teacher(teacher, device="cpu"),
        student=student if student is not None else make_mlp(n, seed=2),
        domain=domain,
        y_loc=torch.zeros(1, 1),
        y_scale=torch.ones(1, 1),
        generator=torch.Generator().manual_seed(0),
        rng=np.random.default_rng(0),
        device=torch.device("cpu"),
    )


@pytest.fixture
def mlp_teacher():
    return make_mlp()


def fidelity_r2(pred, target):
    pred = np.asarray(pred, dtype=np.float64).reshape(len(target), -1)
    target = np.asarray(target, dtype=np.float64).reshape(len(target), -1)
    return float(np.mean(1 - ((pred - target) ** 2).mean(0) / target.var(0)))


def teacher_predict(module, X):
    with torch.no_grad():
        return module(torch.as_tensor(X, dtype=torch.float32)).numpy()


class RecordingTeacher:
    """A black-box teacher that records every query it answers."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.n_features_in_ = estimator.n_features_in_
        self.queries = []

    def predict(self, X):
        self.queries.append(np.array(X, copy=True))
        return self.estimator.predict(X)

    def all_queries(self):
        return np.concatenate(self.queries)


def run_python(code, *args, timeout=120):
    """Run ``code`` in a fresh Python process that imports the tests' helpers."""
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), str(tests.parent)])}
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
