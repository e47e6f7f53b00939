import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import make_friedman1
from sklearn.ensemble import (
    BaggingRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    StackingRegressor,
    VotingRegressor,
)
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

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
    assert "leaf boxes + threshold box" in domain.source
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
        "leaf boxes" in DataFreeDistillRegressor(forest, **small).fit().domain_.source
    )


def test_falling_back_to_standard_normal_warns_for_black_box_teachers(raw):
    X, y = raw
    small = dict(max_queries=6000, round_size=2048, n_holdout=256, random_state=0)
    # A black box that shows nothing of its inputs' scale (a linear model,
    # which also does not, gets a linear student that needs none).
    teacher = make_pipeline(FunctionTransformer(np.tanh), LinearRegression())
    with pytest.warns(UserWarning, match="standard normal"):
        d = DataFreeDistillRegressor(teacher.fit(X, y), **small).fit()
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
    # The leaf boxes keep the queries near the diagonal, as the data are;
    # independent marginals (or the threshold box alone) put a fifth there.
    assert np.mean(np.abs(q[:, 0] - q[:, 1]) < 1) > 0.5


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


def _forest():
    return RandomForestRegressor(n_estimators=10, random_state=0)


def _hgb():
    return HistGradientBoostingRegressor(max_iter=20)


@pytest.mark.parametrize(
    "teacher, inner",
    [
        (
            TransformedTargetRegressor(_hgb(), func=np.log1p, inverse_func=np.expm1),
            "HistGradientBoostingRegressor",
        ),
        (
            BaggingRegressor(
                DecisionTreeRegressor(),
                n_estimators=10,
                max_features=0.5,
                random_state=0,
            ),
            "DecisionTreeRegressor",
        ),
        (VotingRegressor([("rf", _forest()), ("hgb", _hgb())]), "(RandomForest"),
        (
            StackingRegressor([("rf", _forest()), ("hgb", _hgb())], RidgeCV()),
            "HistGradientBoostingRegressor",
        ),
        (MultiOutputRegressor(_hgb()), "HistGradientBoostingRegressor"),
        (make_pipeline(SimpleImputer(), _hgb()), "SimpleImputer > HistGradient"),
        (make_pipeline(FunctionTransformer(), _forest()), "RandomForestRegressor"),
        (make_pipeline(StandardScaler(), _forest()), "StandardScaler.inverse"),
    ],
    ids=lambda p: type(p).__name__ if not isinstance(p, str) else "",
)
def test_wrappers_are_seen_through_to_the_data_range(raw, teacher, inner):
    X, y = raw
    if isinstance(teacher, MultiOutputRegressor):
        y = np.column_stack([y, y**2])
    domain = infer_domain(teacher.fit(X, y), 6)
    assert domain.distribution == "boxes"
    assert inner in domain.source and domain.source.endswith("+ threshold box")
    # Bounds on each feature's own scale (10^j): no column mapped to another.
    span = X.max(0) - X.min(0)
    assert np.all(np.abs(domain.low - X.min(0)) < 0.15 * span), domain.low
    assert np.all(np.abs(domain.high - X.max(0)) < 0.15 * span), domain.high
    q = _queries(domain)
    assert domain.contains(q)
    assert np.all(q.max(0) - q.min(0) > 0.8 * span)


def test_bagged_trees_map_their_feature_subsets_back():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 4)) * [1, 10, 100, 1000]
    y = X.sum(axis=1)
    # Each tree sees one column; three trees cannot see all four.
    bagging = BaggingRegressor(
        DecisionTreeRegressor(), n_estimators=3, max_features=1, random_state=0
    ).fit(X, y)
    seen = np.isin(np.arange(4), np.concatenate(bagging.estimators_features_))
    assert not seen.all()
    domain = infer_domain(bagging, 4)
    np.testing.assert_array_equal(domain.ignored, ~seen)
    np.testing.assert_allclose(domain.high[seen], X.max(0)[seen], rtol=0.05)
    low, high, _ = domain.boxes
    # A tree on one column bounds its boxes on that column only.
    assert np.all((np.isfinite(low) | np.isfinite(high)).sum(axis=1) <= 1)


def test_tree_domain_covers_the_whole_threshold_range_as_well_as_dense_leaves():
    rng = np.random.default_rng(0)
    # 95% of the rows in a corner, the rest spread over [0, 10]^2.
    X = np.concatenate([rng.uniform(0, 1, (950, 2)), rng.uniform(0, 10, (50, 2))])
    y = np.sin(X[:, 0]) + X[:, 1]
    forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    domain = infer_domain(forest, 2)
    assert domain.uniform_fraction == 0.5
    leaves_only = copy.copy(domain)
    leaves_only.uniform_fraction = 0.0

    def outside_corner(d):
        return np.mean((_queries(d) > 1.5).any(axis=1))

    # The leaves alone follow the rows into the corner; the mixture sends a
    # sizeable share of queries over the rest of the range.
    assert outside_corner(domain) > outside_corner(leaves_only) + 0.3
    q = _queries(domain)
    assert np.all(q.max(0) - q.min(0) > 0.95 * (domain.high - domain.low))
    # And the dense corner still gets more than its share of the box.
    assert np.mean((q < 1).all(axis=1)) > 0.25


def _boosted(package, X, y):
    if package == "hgb":
        return HistGradientBoostingRegressor(max_iter=10, max_leaf_nodes=8).fit(X, y)
    lib = pytest.importorskip(package)
    if package == "lightgbm":
        return lib.LGBMRegressor(n_estimators=10, num_leaves=8, verbose=-1).fit(X, y)
    return lib.XGBRegressor(n_estimators=10, max_depth=3).fit(X, y)


@pytest.mark.parametrize("package", ["hgb", "lightgbm", "xgboost"])
def test_boosted_trees_give_leaf_boxes_weighted_by_their_training_counts(package):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=400), rng.exponential(size=400)])
    y = np.sin(2 * X[:, 0]) + X[:, 1] + 0.1 * rng.normal(size=400)
    domain = infer_domain(_boosted(package, X, y), 2)
    assert domain.distribution == "boxes" and "leaf boxes" in domain.source
    low, high, weights = domain.boxes
    assert low.shape[0] > 20  # the leaves of several trees
    # Each box weighs the share of the training rows it holds (per tree).
    inside = ((X[:, None] >= low) & (X[:, None] <= high)).all(axis=2).mean(axis=0)
    np.testing.assert_allclose(weights, inside / inside.sum(), atol=0.01)


@pytest.mark.parametrize("package", ["hgb", "lightgbm"])  # they keep the range
def test_integer_features_stay_integer_across_the_whole_box(package):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 10, 500), rng.normal(size=500)])
    # One split on the integer feature: its thresholds alone span 6 and 7.
    y = np.where(X[:, 0] > 6, 3.0, 0.0) + X[:, 1]
    domain = infer_domain(_boosted(package, X, y), 2)
    assert domain.integer.tolist() == [True, False]
    q = _queries(domain)
    np.testing.assert_array_equal(q[:, 0], np.round(q[:, 0]))
    # Every integer of the range shows up, the end points included.
    counts = np.bincount(q[:, 0].astype(int), minlength=10)
    assert counts.size == 10 and counts.min() > 0.03 * len(q), counts


def test_leaf_counts_give_each_cell_its_share_of_the_samples():
    from skdistill._introspection import _sample_shares

    # Two "trees" over cells [0, 1), [1, 2), [2, 3), [3, 4): the first splits
    # at 2 (samples 0.8 / 0.2), the second at 1 and 3 (0.5, 0.4, 0.1).
    inf = np.inf
    low = np.array([-inf, 2, -inf, 1, 3])
    high = np.array([2, inf, 1, 3, inf])
    weights = np.array([0.8, 0.2, 0.5, 0.4, 0.1]) / 2
    shares = _sample_shares(low, high, weights, np.arange(5.0), n_iter=2000)
    # Consistent with both: 0.5 in [0, 1), 0.3 in [1, 2), 0.1 and 0.1 beyond.
    np.testing.assert_allclose(shares, [0.5, 0.3, 0.1, 0.1], atol=1e-3)


@pytest.mark.parametrize("package", ["rf", "hgb", "lightgbm", "xgboost"])
def test_tree_domains_follow_the_training_distribution_of_skewed_features(package):
    rng = np.random.default_rng(0)
    n = 3000
    X = np.column_stack(
        [rng.poisson(0.7, n) * rng.integers(0, 2, n), rng.lognormal(0, 1, n)]
    ).astype(np.float64)
    y = np.log1p(X[:, 0]) + np.sqrt(X[:, 1]) + 0.1 * rng.normal(size=n)
    if package == "rf":
        model = RandomForestRegressor(n_estimators=20, min_samples_leaf=5)
        model = model.set_params(random_state=0).fit(X, y)
    else:
        model = _boosted(package, X, y)
    domain = infer_domain(model, 2)
    # Thresholds alone spread the values evenly over the range: a few
    # percent of them would be zeros, and the lognormal's median near 10.
    if package in ("rf", "hgb"):  # an integer split at k + 0.5
        zeros = np.mean(domain.marginals[0] < 0.5)
        assert zeros == pytest.approx(np.mean(X[:, 0] == 0), abs=0.05)
    quantiles = [0.25, 0.5, 0.75]
    np.testing.assert_allclose(
        np.quantile(domain.marginals[1], quantiles),
        np.quantile(X[:, 1], quantiles),
        rtol=0.2,
    )


def test_hgb_categorical_features_of_an_array_keep_their_columns():
    # HistGradientBoosting's trees and bins see categorical features first.
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.uniform(0, 1, 1000), rng.integers(0, 3, 1000), rng.uniform(100, 200, 1000)]
    )
    y = 10 * X[:, 0] + X[:, 2] / 10 + (X[:, 1] == 0)
    model = HistGradientBoostingRegressor(categorical_features=[1], max_iter=20)
    domain = infer_domain(model.fit(X, y), 3)
    assert list(domain.categories) == [1]
    np.testing.assert_array_equal(domain.categories[1], [0, 1, 2])
    for j in (0, 2):
        assert X[:, j].min() <= domain.marginals[j].min() + 0.05 * np.ptp(X[:, j])
        assert domain.marginals[j].max() <= X[:, j].max() + 0.05 * np.ptp(X[:, j])
        assert np.ptp(domain.marginals[j]) > 0.8 * np.ptp(X[:, j])
