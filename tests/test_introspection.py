import warnings

import numpy as np
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_friedman1
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import SVR

from skdistill import DataFreeDistillRegressor
from skdistill._introspection import infer_domain


@pytest.fixture(scope="module")
def raw():
    """Friedman #1 on raw, differently scaled features: columns x * 10^j."""
    X, y = make_friedman1(n_samples=500, n_features=6, random_state=0)
    return X * 10.0 ** np.arange(6), y


def _queries(domain, n=4000):
    return domain.sample(n, torch.Generator().manual_seed(0)).numpy()


@pytest.mark.parametrize(
    "scaler",
    [
        StandardScaler(),
        MinMaxScaler(),
        RobustScaler(),
        QuantileTransformer(n_quantiles=50),
    ],
)
def test_pipeline_scaler_gives_the_data_scale(raw, scaler):
    X, y = raw
    teacher = make_pipeline(scaler, Ridge()).fit(X, y)
    domain = infer_domain(teacher, 6)
    assert type(scaler).__name__ in domain.source
    q = _queries(domain)
    # Queries live on the data's scale in every feature, within a factor of 2.
    ratio = q.std(0) / X.std(0)
    assert np.all((ratio > 0.5) & (ratio < 2)), ratio
    assert np.all(np.abs(q.mean(0) - X.mean(0)) < X.std(0))


def test_tree_thresholds_cover_the_data_range(raw):
    X, y = raw
    forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    domain = infer_domain(forest, 6)
    assert "split thresholds" in domain.source
    q = _queries(domain)
    span = X.max(0) - X.min(0)
    assert np.all(q.min(0) < X.min(0) + 0.1 * span)
    assert np.all(q.max(0) > X.max(0) - 0.1 * span)
    assert domain.contains(q)


def test_integer_features_stay_integer_and_unused_features_are_ignored():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.integers(0, 10, 400), rng.normal(size=400), rng.normal(size=400)]
    )
    y = X[:, 0] * 2 + np.sin(X[:, 1])
    tree = GradientBoostingRegressor(n_estimators=30, max_depth=2, random_state=0)
    tree.fit(X[:, :2], y)
    domain = infer_domain(tree, 2)
    assert domain.integer[0] and not domain.integer[1]
    q = _queries(domain)
    np.testing.assert_array_equal(q[:, 0], np.round(q[:, 0]))
    assert 0 <= q[:, 0].min() and q[:, 0].max() <= 9

    # A feature constant in training is never split on: the teacher ignores it.
    constant = np.column_stack([X[:, :2], np.zeros(400)])
    hgb = HistGradientBoostingRegressor(max_iter=20).fit(constant, y)
    hdomain = infer_domain(hgb, 3)
    assert hdomain.ignored[2] and not hdomain.ignored[0]
    assert hdomain.input_scale[2] > 1e10  # the student's input maps it to zero


def test_one_hot_categories_stay_categorical():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.choice([1.0, 5.0, 7.0], 300), rng.normal(size=300)])
    y = (X[:, 0] == 5) + X[:, 1]
    ct = ColumnTransformer(
        [("cat", OneHotEncoder(), [0]), ("num", StandardScaler(), [1])]
    )
    teacher = make_pipeline(ct, LinearRegression()).fit(X, y)
    domain = infer_domain(teacher, 2)
    q = _queries(domain)
    assert set(np.unique(q[:, 0])) == {1.0, 5.0, 7.0}
    assert 0.5 < q[:, 1].std() < 2


@pytest.mark.parametrize("model", [KNeighborsRegressor(), SVR()])
def test_models_that_keep_rows_give_an_empirical_domain(raw, model):
    X, y = raw
    domain = infer_domain(make_pipeline(model).fit(X, y), 6)
    assert domain.distribution == "empirical"
    assert domain.contains(X) or "support vectors" in domain.source


def test_frozen_estimator_is_seen_through(raw):
    X, y = raw
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    assert infer_domain(FrozenEstimator(forest), 6) == infer_domain(forest, 6)


def test_opaque_models_reveal_nothing(raw):
    X, y = raw
    assert infer_domain(LinearRegression().fit(X, y), 6) is None


def test_precedence_user_domain_then_rows_then_teacher(raw):
    X, y = raw
    forest = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    small = dict(max_queries=6000, round_size=2048, n_holdout=256, random_state=0)
    box = {"low": X.min(0), "high": X.max(0)}
    assert (
        DataFreeDistillRegressor(forest, domain=box, **small).fit(X).domain_.source
        == "user: bounds"
    )
    assert "fit(X)" in DataFreeDistillRegressor(forest, **small).fit(X).domain_.source
    assert (
        "split thresholds"
        in DataFreeDistillRegressor(forest, **small).fit().domain_.source
    )


def test_falling_back_to_standard_normal_warns_for_black_box_teachers(raw):
    X, y = raw
    small = dict(max_queries=6000, round_size=2048, n_holdout=256, random_state=0)
    with pytest.warns(UserWarning, match="standard normal"):
        d = DataFreeDistillRegressor(LinearRegression().fit(X, y), **small).fit()
    assert "standard normal" in d.domain_.source
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the paper's setting: no warning
        DataFreeDistillRegressor(net, **small).fit()


def test_forest_on_raw_features_distills_without_data(raw):
    X, y = raw
    forest = RandomForestRegressor(n_estimators=30, random_state=0).fit(X, y)
    d = DataFreeDistillRegressor(forest, max_queries=60_000, random_state=0).fit()
    target = forest.predict(X)
    r2 = 1 - np.mean((d.predict(X) - target) ** 2) / target.var()
    assert r2 > 0.8


def test_forest_leaf_boxes_keep_the_joint_structure_of_the_data():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 10, 2000)
    X = np.column_stack([a, a + rng.normal(scale=0.3, size=2000)])
    y = np.sin(X[:, 0]) + X[:, 1]
    forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    domain = infer_domain(forest, 2)
    assert domain.distribution == "boxes"
    q = _queries(domain)
    # Independent marginals would give no correlation; the leaves keep most of it.
    assert np.corrcoef(q[:, 0], q[:, 1])[0, 1] > 0.8


@pytest.mark.parametrize("package", ["lightgbm", "xgboost"])
def test_gradient_boosting_libraries_reveal_their_thresholds(package):
    lib = pytest.importorskip(package)
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.integers(0, 10, 500), rng.uniform(100, 200, 500), np.zeros(500)]
    )
    y = X[:, 0] + np.sin(X[:, 1] / 10)
    if package == "lightgbm":
        model = lib.LGBMRegressor(n_estimators=20, verbose=-1).fit(X, y)
    else:
        model = lib.XGBRegressor(n_estimators=20, max_depth=3).fit(X, y)
    domain = infer_domain(model, 3)
    assert type(model).__name__ in domain.source
    q = _queries(domain)
    assert 90 < q[:, 1].min() and q[:, 1].max() < 210
    assert domain.ignored[2]  # constant in training: never split on
    if package == "lightgbm":  # thresholds at k + 0.5: an integer feature
        np.testing.assert_array_equal(q[:, 0], np.round(q[:, 0]))
