"""Where to query, read off the fitted teacher itself.

A fitted model remembers more about its training data than its predictions:
a scaler keeps the data's mean and scale (or range, or quantiles), an encoder
its categories, a tree ensemble the split thresholds it can distinguish
(dense where the data was dense; at ``k + 0.5`` for integer features), and
some models keep rows outright (k-nearest neighbours, support vectors).
``infer_domain`` turns what it finds into an :class:`InputDomain` whose
``source`` says where each part came from, or returns ``None``.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

from ._domain import InputDomain

__all__ = ["infer_domain"]

_GRID = 256  # values per feature for parametric (normal, uniform) marginals
_MAX_TREES = 32  # trees whose leaves make the boxes of a tree-ensemble domain


@dataclass
class _Feature:
    """What is known about one input feature."""

    values: np.ndarray  # support values, input units
    low: float = -np.inf
    high: float = np.inf
    integer: bool = False
    categorical: bool = False
    ignored: bool = False
    origin: str = ""
    scale: float = field(default=None)

    @classmethod
    def normal(cls, loc, scale, origin):
        grid = ndtri((np.arange(_GRID) + 0.5) / _GRID)
        return cls(loc + scale * grid, origin=origin, scale=scale)

    @classmethod
    def uniform(cls, low, high, origin):
        return cls(np.linspace(low, high, _GRID), low=low, high=high, origin=origin)


def _unwrap(estimator):
    """See through FrozenEstimator-like wrappers."""
    from sklearn.frozen import FrozenEstimator

    while isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return estimator


# -- transformers (the first step of a Pipeline) -----------------------------
def _scaler_features(step):
    from sklearn.preprocessing import (
        MaxAbsScaler,
        MinMaxScaler,
        QuantileTransformer,
        RobustScaler,
        StandardScaler,
    )

    name = type(step).__name__
    if isinstance(step, StandardScaler):
        n = step.n_features_in_
        loc = step.mean_ if step.mean_ is not None else np.zeros(n)
        scale = step.scale_ if step.scale_ is not None else np.ones(n)
        return [
            _Feature.normal(m, s, f"{name}.mean_/scale_") for m, s in zip(loc, scale)
        ]
    if isinstance(step, MinMaxScaler):
        return [
            _Feature.uniform(lo, hi, f"{name}.data_min_/data_max_")
            for lo, hi in zip(step.data_min_, step.data_max_)
        ]
    if isinstance(step, RobustScaler):
        n = step.n_features_in_
        loc = step.center_ if step.center_ is not None else np.zeros(n)
        iqr = step.scale_ if step.scale_ is not None else np.full(n, 1.349)
        # Half the spread of a normal with this interquartile range.
        return [
            _Feature.normal(m, s / 1.349, f"{name}.center_/scale_")
            for m, s in zip(loc, iqr)
        ]
    if isinstance(step, MaxAbsScaler):
        return [_Feature.uniform(-m, m, f"{name}.max_abs_") for m in step.max_abs_]
    if isinstance(step, QuantileTransformer):
        q = step.quantiles_
        return [
            _Feature(q[:, j], low=q[0, j], high=q[-1, j], origin=f"{name}.quantiles_")
            for j in range(q.shape[1])
        ]
    return None


def _encoder_features(step):
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if not isinstance(step, (OneHotEncoder, OrdinalEncoder)):
        return None
    features = []
    for categories in step.categories_:
        values = np.asarray(categories)
        if not np.issubdtype(values.dtype, np.number):
            return None  # string categories cannot be numeric queries
        values = values[np.isfinite(values.astype(np.float64))].astype(np.float64)
        features.append(
            _Feature(
                values,
                low=values.min(),
                high=values.max(),
                integer=bool(np.all(values == np.round(values))),
                categorical=True,
                origin=f"{type(step).__name__}.categories_",
            )
        )
    return features


def _column_transformer_features(step, n_features):
    from sklearn.compose import ColumnTransformer

    if not isinstance(step, ColumnTransformer):
        return None
    features = [None] * n_features
    for name, indices in step._transformer_to_input_indices.items():
        if name == "remainder" or len(indices) == 0:
            transformer = step.remainder
        else:
            transformer = step.named_transformers_.get(name)
        if isinstance(transformer, str) or transformer is None:
            continue  # passthrough / drop: nothing known about these columns
        found = _transformer_features(transformer, len(indices))
        if found is None:
            continue
        for j, feature in zip(indices, found):
            features[j] = feature
    return features


def _transformer_features(step, n_features):
    from sklearn.pipeline import Pipeline

    if isinstance(step, Pipeline):
        return _transformer_features(step.steps[0][1], n_features)
    for reader in (_scaler_features, _encoder_features):
        found = reader(step)
        if found is not None:
            return found
    return _column_transformer_features(step, n_features)


# -- tree ensembles ------------------------------------------------------------
def _sklearn_trees(estimator):
    from sklearn.ensemble import BaseEnsemble
    from sklearn.tree import BaseDecisionTree

    if isinstance(estimator, BaseDecisionTree):
        return [estimator.tree_]
    if isinstance(estimator, BaseEnsemble):
        members = np.ravel(np.asarray(estimator.estimators_, dtype=object))
        if all(isinstance(m, BaseDecisionTree) for m in members):
            return [m.tree_ for m in members]
    return None


def _threshold_feature(thresholds, origin):
    """A feature known only through the thresholds a model splits it at."""
    t = np.sort(thresholds)
    # Integer features split at k + 0.5; LightGBM splits "0 vs positive" at
    # about 1e-35 instead of 0.5.
    at_half = np.abs(t - np.floor(t) - 0.5) < 1e-6
    integer = bool(np.all(at_half | (np.abs(t) < 1e-30)) and at_half.any())
    unique = np.unique(t)
    # One cell beyond the outermost thresholds, as wide as a typical cell.
    gap = np.median(np.diff(unique)) if unique.size > 1 else 1.0
    gap = max(gap, 1.0) if integer else gap
    low, high = unique[0] - gap, unique[-1] + gap
    if integer:
        low, high = np.ceil(low), np.floor(high)
    values = np.concatenate([t, [low, high]])
    return _Feature(values, low=low, high=high, integer=integer, origin=origin)


def _leaf_boxes(trees, n_features, max_trees, random_state):
    """Return the leaves of up to ``max_trees`` trees as weighted boxes.

    Each leaf is the box its path's thresholds cut out, weighted by the
    training samples that reached it: together, a density estimate of the
    training inputs that keeps their joint structure.
    """
    rng = np.random.default_rng(random_state)
    if len(trees) > max_trees:
        trees = [trees[i] for i in rng.choice(len(trees), max_trees, replace=False)]
    lows, highs, weights = [], [], []
    for tree in trees:
        low = np.full((tree.node_count, n_features), -np.inf)
        high = np.full((tree.node_count, n_features), np.inf)
        # Nodes are numbered parents before children: one pass fills the boxes.
        for node in range(tree.node_count):
            left, right = tree.children_left[node], tree.children_right[node]
            if left < 0:
                continue
            j, t = tree.feature[node], tree.threshold[node]
            low[left], high[left] = low[node], high[node]
            low[right], high[right] = low[node], high[node]
            high[left, j] = min(high[node, j], t)
            low[right, j] = max(low[node, j], t)
        leaves = tree.children_left < 0
        lows.append(low[leaves])
        highs.append(high[leaves])
        weights.append(tree.weighted_n_node_samples[leaves])
    return np.concatenate(lows), np.concatenate(highs), np.concatenate(weights)


def _booster_thresholds(estimator, n_features):
    """Per-feature split thresholds of an XGBoost or LightGBM model, or None."""
    module = type(estimator).__module__.split(".")[0]
    if module == "lightgbm" and hasattr(estimator, "booster_"):
        booster = estimator.booster_
        frame = booster.trees_to_dataframe()
        names = booster.feature_name()
        feature, threshold = frame["split_feature"], frame["threshold"]
    elif module == "xgboost" and hasattr(estimator, "get_booster"):
        booster = estimator.get_booster()
        frame = booster.trees_to_dataframe()
        names = booster.feature_names or [f"f{j}" for j in range(n_features)]
        feature, threshold = frame["Feature"], frame["Split"]
    else:
        return None
    index = {str(name): j for j, name in enumerate(names)}
    per_feature = [[] for _ in range(n_features)]
    for f, t in zip(feature, threshold):
        j = index.get(str(f))
        if j is not None and j < n_features and np.isfinite(t):
            per_feature[j].append(float(t))
    return per_feature


def _tree_features(estimator, n_features):
    name = type(estimator).__name__
    mapper = getattr(estimator, "_bin_mapper", None)
    if mapper is not None and hasattr(mapper, "bin_thresholds_"):
        # HistGradientBoosting: bin edges are quantiles of the training data.
        categorical = getattr(estimator, "is_categorical_", None)
        features = []
        for j, edges in enumerate(mapper.bin_thresholds_):
            edges = np.asarray(edges, dtype=np.float64)
            if categorical is not None and categorical[j]:
                features.append(
                    _Feature(
                        edges,
                        low=edges.min(),
                        high=edges.max(),
                        integer=True,
                        categorical=True,
                        origin=f"{name} categories",
                    )
                )
            elif edges.size == 0:
                # A feature constant in the training data: never split on.
                features.append(
                    _Feature(np.zeros(1), ignored=True, origin=f"{name}: never split")
                )
            else:
                features.append(_threshold_feature(edges, f"{name} bin thresholds"))
        return features
    trees = _sklearn_trees(estimator)
    if trees is not None:
        per_feature = [[] for _ in range(n_features)]
        for tree in trees:
            internal = tree.feature >= 0
            for j, t in zip(tree.feature[internal], tree.threshold[internal]):
                per_feature[j].append(t)
    else:
        per_feature = _booster_thresholds(estimator, n_features)
        if per_feature is None:
            return None
    features = []
    for j in range(n_features):
        if per_feature[j]:
            features.append(
                _threshold_feature(np.array(per_feature[j]), f"{name} split thresholds")
            )
        else:
            # Never split on: the teacher provably ignores this feature.
            features.append(
                _Feature(np.zeros(1), ignored=True, origin=f"{name}: never split")
            )
    return features


# -- models that keep training rows ---------------------------------------------
_STORED_ROWS = {
    "_fit_X": "stored training rows",
    "support_vectors_": "support vectors",
    "X_train_": "stored training rows",
}


def _stored_rows(estimator):
    for attr, what in _STORED_ROWS.items():
        rows = getattr(estimator, attr, None)
        if isinstance(rows, np.ndarray) and rows.ndim == 2 and rows.shape[0] >= 2:
            return rows, f"teacher: {type(estimator).__name__}.{attr} ({what})"
    return None, None


# -- assembly -----------------------------------------------------------------
def _assemble(features, source, boxes=None):
    n = len(features)
    if all(f is None for f in features):
        return None
    origins = []
    marginals, loc, scale, low, high = (
        [],
        np.zeros(n),
        np.ones(n),
        np.full(n, -np.inf),
        np.full(n, np.inf),
    )
    integer, ignored, categories = np.zeros(n, bool), np.zeros(n, bool), {}
    for j, f in enumerate(features):
        if f is None:
            f = _Feature.normal(0.0, 1.0, "unknown: standard normal")
        values = np.asarray(f.values, dtype=np.float64)
        marginals.append(values)
        loc[j] = values.mean()
        if f.scale is not None:
            scale[j] = f.scale
        elif f.ignored:
            scale[j] = 0.0
        else:
            spread = values.std()
            scale[j] = spread if spread > 0 else (0.5 if f.integer else 1.0)
        low[j], high[j] = f.low, f.high
        integer[j], ignored[j] = f.integer, f.ignored
        if f.categorical:
            categories[j] = values
        origins.append(f.origin)
    kinds = sorted(set(origins))
    return InputDomain(
        loc,
        scale,
        low=low,
        high=high,
        distribution="marginal" if boxes is None else "boxes",
        source=f"{source}: " + "; ".join(kinds) + ("; leaf boxes" if boxes else ""),
        marginals=marginals,
        integer=integer,
        categories=categories,
        ignored=ignored,
        boxes=boxes,
    )


def infer_domain(teacher, n_features, random_state=0):
    """Return the input domain the fitted ``teacher`` reveals, or ``None``.

    Looks, in order, at the first step of a Pipeline (scalers, encoders,
    ColumnTransformer), at tree ensembles' split thresholds (sklearn trees
    and forests, gradient boosting, HistGradientBoosting bin thresholds,
    XGBoost and LightGBM models),
    and at training rows some models keep (k-nearest neighbours, support
    vectors, Gaussian processes).
    """
    from sklearn.pipeline import Pipeline

    estimator = _unwrap(teacher)
    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s not in (None, "passthrough")]
        if len(steps) > 1:
            features = _transformer_features(steps[0], n_features)
            if features is not None and len(features) == n_features:
                return _assemble(features, "teacher: Pipeline first step")
            return None
        estimator = steps[-1]
    features = _tree_features(estimator, n_features)
    if features is not None:
        trees = _sklearn_trees(estimator)
        boxes = None
        if trees is not None:
            boxes = _leaf_boxes(trees, n_features, _MAX_TREES, random_state)
        return _assemble(features, "teacher", boxes)
    rows, source = _stored_rows(estimator)
    if rows is not None:
        return InputDomain.from_data(rows, random_state=random_state, source=source)
    return None
