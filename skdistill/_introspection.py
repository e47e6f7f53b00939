"""Where to query, read off the fitted teacher itself.

A fitted model remembers more about its training data than its predictions:
a scaler keeps the data's mean and scale (or range, or quantiles), an encoder
its categories, a tree ensemble its leaves (boxes of the input space, with the
training samples that reached them) and the split thresholds it can
distinguish (dense where the data was dense; at ``k + 0.5`` for integer
features), and some models keep rows outright (k-nearest neighbours, support
vectors). ``_reveal`` reads what one estimator reveals about its raw input,
calling itself on the members of wrappers, ensembles and pipelines;
``infer_domain`` turns the result into an :class:`InputDomain` whose
``source`` says where each part came from, or returns ``None``.
"""

from dataclasses import dataclass, field, replace
from functools import reduce
from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from ._domain import InputDomain

__all__ = ["infer_domain"]

_GRID = 256  # values per feature for parametric (normal, uniform) marginals
_MAX_TREES = 32  # trees whose leaves make the boxes of a tree-ensemble domain
_TURNBULL_ITERATIONS = 200  # self-consistency steps for a feature's sample shares


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
    thresholds: np.ndarray = None  # split thresholds, when that is all we know
    flat_outside: bool = False  # the model is constant beyond [low, high]
    counted: bool = False  # values spread by the training samples' counts

    @classmethod
    def never_split(cls, origin):
        """A feature the model provably ignores: held constant."""
        return cls(np.zeros(1), ignored=True, origin=origin)

    @classmethod
    def categories(cls, values, origin):
        """A categorical feature with the given category codes."""
        values = np.asarray(values, dtype=np.float64)
        return cls(
            values,
            low=values.min(),
            high=values.max(),
            integer=True,
            categorical=True,
            origin=origin,
        )

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


# -- trees, whatever library grew them ---------------------------------------------
class _Tree(NamedTuple):
    """One fitted tree as flat node arrays (node 0 is the root).

    ``left`` and ``right`` are -1 at leaves; ``threshold`` is NaN where a node
    splits a category set (no interval for a box); ``weight`` counts the
    training samples (or the hessian cover) that reached each node.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    weight: np.ndarray


def _sklearn_trees(estimator):
    from sklearn.ensemble import BaseEnsemble
    from sklearn.tree import BaseDecisionTree

    if isinstance(estimator, BaseDecisionTree):
        members = [estimator]
    elif isinstance(estimator, BaseEnsemble):
        members = np.ravel(np.asarray(estimator.estimators_, dtype=object))
        if not all(isinstance(m, BaseDecisionTree) for m in members):
            return None
    else:
        return None
    return [
        _Tree(
            t.children_left,
            t.children_right,
            t.feature,
            np.where(t.children_left >= 0, t.threshold, np.nan),
            t.weighted_n_node_samples,
        )
        for t in (m.tree_ for m in members)
    ]


def _hist_gradient_boosting_order(estimator):
    """The input column of each feature HistGradientBoosting's trees see, or None.

    With categorical features, its ``_preprocessor`` puts them first (in
    column order), then the numeric ones: the trees' feature indices and
    ``bin_thresholds_`` follow that order, ``is_categorical_`` the columns'.
    """
    categorical = getattr(estimator, "is_categorical_", None)
    if getattr(estimator, "_preprocessor", None) is None or categorical is None:
        return None
    categorical = np.asarray(categorical, dtype=bool)
    return np.concatenate([np.flatnonzero(categorical), np.flatnonzero(~categorical)])


def _hist_gradient_boosting_trees(estimator):
    predictors = getattr(estimator, "_predictors", None)
    if predictors is None:
        return None
    order = _hist_gradient_boosting_order(estimator)
    trees = []
    for predictor in (p for iteration in predictors for p in iteration):
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        numeric = ~leaf & ~nodes["is_categorical"].astype(bool)
        trees.append(
            _Tree(
                np.where(leaf, -1, nodes["left"].astype(np.int64)),
                np.where(leaf, -1, nodes["right"].astype(np.int64)),
                np.where(
                    leaf,
                    -1,
                    nodes["feature_idx"]
                    if order is None
                    else order[nodes["feature_idx"]],
                ),
                np.where(numeric, nodes["num_threshold"], np.nan),
                nodes["count"].astype(np.float64),
            )
        )
    return trees


def _frame_trees(frame, tree, node, left, right, feature, threshold, weight, names):
    """Split a ``trees_to_dataframe()`` table (one row per node) into trees."""
    import pandas as pd

    ids = pd.Index(frame[node])
    index = {str(name): j for j, name in enumerate(names)}
    feature = frame[feature].map(lambda f: index.get(str(f), -1)).to_numpy(np.int64)
    left = ids.get_indexer(frame[left])
    right = ids.get_indexer(frame[right])
    threshold = pd.to_numeric(threshold, errors="coerce").to_numpy(np.float64)
    threshold = np.where((left >= 0) & (feature >= 0), threshold, np.nan)
    weight = frame[weight].to_numpy(np.float64)
    # Rows come tree by tree, each tree's root first.
    starts = np.flatnonzero(np.diff(frame[tree].to_numpy(), prepend=-1))
    ends = np.append(starts[1:], len(frame))
    return [
        _Tree(
            np.where(left[a:b] >= 0, left[a:b] - a, -1),
            np.where(right[a:b] >= 0, right[a:b] - a, -1),
            feature[a:b],
            threshold[a:b],
            weight[a:b],
        )
        for a, b in zip(starts, ends)
    ]


def _booster_trees(estimator, n_features):
    """The trees of a LightGBM or XGBoost model, or None."""
    module = type(estimator).__module__.split(".")[0]
    if module == "lightgbm" and hasattr(estimator, "booster_"):
        booster = estimator.booster_
        frame = booster.trees_to_dataframe()
        # Category splits ("==", thresholds like "1||3") cut out no interval.
        threshold = frame["threshold"].where(frame["decision_type"] == "<=")
        return _frame_trees(
            frame,
            "tree_index",
            "node_index",
            "left_child",
            "right_child",
            "split_feature",
            threshold,
            "count",
            booster.feature_name(),
        )
    if module == "xgboost" and hasattr(estimator, "get_booster"):
        booster = estimator.get_booster()
        frame = booster.trees_to_dataframe()
        names = booster.feature_names or [f"f{j}" for j in range(n_features)]
        # XGBoost counts no samples; the hessian cover is the count for
        # squared error and a sample weight otherwise.
        return _frame_trees(
            frame, "Tree", "ID", "Yes", "No", "Feature", frame["Split"], "Cover", names
        )
    return None


def _lightgbm_feature_infos(estimator, n_features):
    """LightGBM's record of each feature's range (or categories), by index."""
    if type(estimator).__module__.split(".")[0] != "lightgbm":
        return {}
    # One iteration is enough: the feature infos come with any dump.
    model = estimator.booster_.dump_model(num_iteration=1)
    index = {name: j for j, name in enumerate(model["feature_names"])}
    return {
        index[name]: info
        for name, info in model["feature_infos"].items()
        if index.get(name, n_features) < n_features
    }


def _tree_boxes(tree, n_features):
    """Return the leaves of ``tree`` as boxes ``(low, high)`` and their weights.

    Each leaf is the box its path's thresholds cut out; the tree is walked
    one level at a time.
    """
    low = np.full((tree.left.size, n_features), -np.inf)
    high = np.full((tree.left.size, n_features), np.inf)
    level = np.zeros(1, dtype=np.int64)
    while level.size:
        level = level[tree.left[level] >= 0]
        left, right = tree.left[level], tree.right[level]
        low[left] = low[right] = low[level]
        high[left] = high[right] = high[level]
        numeric = np.isfinite(tree.threshold[level])
        node, j = level[numeric], tree.feature[level[numeric]]
        t = tree.threshold[node]
        high[tree.left[node], j] = np.minimum(high[node, j], t)
        low[tree.right[node], j] = np.maximum(low[node, j], t)
        level = np.concatenate([left, right])
    leaves = tree.left < 0
    return low[leaves], high[leaves], tree.weight[leaves]


def _leaf_boxes(trees, n_features, max_trees, rng):
    """Return the leaves of up to ``max_trees`` trees as weighted boxes.

    Each leaf is weighted by the share of its tree's training samples that
    reached it, each tree by an equal share: together, a density estimate of
    the training inputs that keeps their joint structure.
    """
    if len(trees) > max_trees:
        trees = [trees[i] for i in rng.choice(len(trees), max_trees, replace=False)]
    lows, highs, weights = zip(*(_tree_boxes(tree, n_features) for tree in trees))
    weights = [
        w / w.sum() if w.sum() > 0 else np.ones_like(w) / w.size for w in weights
    ]
    return (
        np.concatenate(lows),
        np.concatenate(highs),
        np.concatenate(weights) / len(trees),
    )


def _sample_shares(low, high, weights, edges, n_iter=_TURNBULL_ITERATIONS):
    """Each cell's share of the training samples, from the leaves' counts.

    ``edges`` cut one feature into cells; each leaf box says that its
    (normalised) count of samples lies in the cells between its bounds
    ``low`` and ``high`` on that feature. Every tree's leaves partition the
    training samples, so together they are interval-censored observations of
    the feature's distribution, whose maximum-likelihood cell shares
    Turnbull's (1976) self-consistency iteration finds. A leaf open on the
    feature says nothing and leaves the shares as they are.
    """
    n_cells = edges.size - 1
    first = np.searchsorted(edges, low, side="left")
    first = np.where(np.isfinite(low), first, 0)
    stop = np.searchsorted(edges, high, side="left")
    stop = np.where(np.isfinite(high), stop, n_cells)
    first, stop = np.clip(first, 0, n_cells), np.clip(stop, 0, n_cells)
    keep = stop > first
    first, stop, weights = first[keep], stop[keep], weights[keep]
    shares = np.full(n_cells, 1.0 / n_cells)
    for _ in range(n_iter):
        cumulative = np.concatenate([[0.0], np.cumsum(shares)])
        mass = cumulative[stop] - cumulative[first]
        ratio = np.divide(weights, mass, out=np.zeros_like(weights), where=mass > 0)
        step = np.bincount(first, ratio, n_cells + 1) - np.bincount(
            stop, ratio, n_cells + 1
        )
        shares = shares * np.cumsum(step)[:n_cells]
        total = shares.sum()
        if total <= 0:
            return np.full(n_cells, 1.0 / n_cells)
        shares /= total
    return shares


def _count_weighted_values(feature, boxes, j):
    """``feature``'s values spread as the leaves' sample counts say (a grid).

    The cells between its outermost bounds and split thresholds get their
    share of the training samples (:func:`_sample_shares`), uniform inside
    each cell; the values are that distribution's quantiles.
    """
    edges = np.unique(
        np.concatenate([[feature.low], feature.thresholds, [feature.high]])
    )
    edges = edges[(edges >= feature.low) & (edges <= feature.high)]
    if edges.size < 2 or not np.isfinite(edges).all():
        return feature
    low, high, weights = boxes
    shares = _sample_shares(low[:, j], high[:, j], weights, edges)
    cumulative = np.concatenate([[0.0], np.cumsum(shares)])
    u = (np.arange(_GRID) + 0.5) / _GRID
    cell = np.clip(np.searchsorted(cumulative, u, side="right") - 1, 0, shares.size - 1)
    within = np.divide(
        u - cumulative[cell],
        shares[cell],
        out=np.full(u.shape, 0.5),
        where=shares[cell] > 0,
    )
    values = edges[cell] + np.clip(within, 0, 1) * (edges[cell + 1] - edges[cell])
    return replace(
        feature,
        values=values,
        origin=feature.origin + ", sample counts",
        counted=True,
    )


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
    return _Feature(
        values,
        low=low,
        high=high,
        integer=integer,
        origin=origin,
        thresholds=t,
        flat_outside=True,  # beyond the outermost thresholds on either side
    )


def _reveal_trees(estimator, n_features, max_trees, rng):
    """Leaf boxes and per-feature thresholds of a tree model, or None."""
    name = type(estimator).__name__
    trees = _sklearn_trees(estimator)
    if trees is None:
        trees = _hist_gradient_boosting_trees(estimator)
    if trees is None:
        trees = _booster_trees(estimator, n_features)
    if not trees:
        return None
    feature = np.concatenate([t.feature[t.left >= 0] for t in trees])
    threshold = np.concatenate([t.threshold[t.left >= 0] for t in trees])
    numeric = np.isfinite(threshold) & (feature >= 0) & (feature < n_features)
    used = np.isin(np.arange(n_features), feature)
    # HistGradientBoosting's bin edges are quantiles of the training data:
    # a finer marginal than the thresholds its trees happened to use.
    mapper = getattr(estimator, "_bin_mapper", None)
    edges = getattr(mapper, "bin_thresholds_", None)
    order = _hist_gradient_boosting_order(estimator)
    if edges is not None and order is not None:  # back to the columns' order
        edges = [edges[p] for p in np.argsort(order)]
    categorical = getattr(estimator, "is_categorical_", None)
    features = []
    for j in range(n_features):
        if categorical is not None and categorical[j]:
            features.append(_Feature.categories(edges[j], f"{name} categories"))
        elif not used[j]:
            # Never split on: the teacher provably ignores this feature.
            features.append(_Feature.never_split(f"{name}: never split"))
        elif edges is not None:
            features.append(_threshold_feature(np.asarray(edges[j]), f"{name} bins"))
        else:
            t = threshold[numeric & (feature == j)]
            # Split on categories only: nothing known about its values.
            origin = f"{name} split thresholds"
            features.append(_threshold_feature(t, origin) if t.size else None)
    for j, info in _lightgbm_feature_infos(estimator, n_features).items():
        if features[j] is None or features[j].ignored:
            continue
        if info.get("values"):
            features[j] = _Feature.categories(info["values"], f"{name} categories")
        elif features[j].thresholds is not None:
            # The training data's range, wider than the outermost thresholds.
            low, high = info["min_value"], info["max_value"]
            values = np.concatenate([features[j].thresholds, [low, high]])
            features[j] = replace(features[j], values=values, low=low, high=high)
    boxes = _leaf_boxes(trees, n_features, max_trees, rng)
    features = [
        _count_weighted_values(f, boxes, j)
        if f is not None and f.thresholds is not None and not f.categorical
        else f
        for j, f in enumerate(features)
    ]
    return _Revealed(features, f"{name} leaf boxes", boxes=boxes)


# -- models that keep training rows ---------------------------------------------
_STORED_ROWS = {
    "_fit_X": "stored training rows",
    "support_vectors_": "support vectors",
    "X_train_": "stored training rows",
}


def _reveal_rows(estimator, n_features):
    for attr, what in _STORED_ROWS.items():
        rows = getattr(estimator, attr, None)
        if (
            isinstance(rows, np.ndarray)
            and rows.ndim == 2
            and rows.shape[0] >= 2
            and rows.shape[1] == n_features
        ):
            return _Revealed(
                [None] * n_features,
                f"{type(estimator).__name__}.{attr} ({what})",
                rows=rows,
            )
    return None


# -- what an estimator reveals, seen through wrappers ------------------------------
@dataclass
class _Revealed:
    """What a fitted estimator reveals about its raw input space."""

    features: list  # per feature: a _Feature, or None when nothing is known
    source: str
    boxes: tuple = None  # (low, high, weights), the weights summing to 1
    rows: np.ndarray = None


def _merge(a, b):
    """What two members together reveal about one feature."""
    # Ignored only if every member ignores it.
    if a is not None and a.ignored:
        return b
    if b is None or b.ignored:
        return a
    if a is None:
        return b
    if a.thresholds is not None and b.thresholds is not None:
        origins = " & ".join(dict.fromkeys(a.origin.split(" & ") + [b.origin]))
        return _threshold_feature(np.concatenate([a.thresholds, b.thresholds]), origins)
    # Flat outside only if every member using the feature is.
    return replace(a, flat_outside=a.flat_outside and b.flat_outside)


def _combine(name, revealed, shares=None):
    """What an ensemble's members together reveal: merged features, pooled
    boxes (each member's share of the weight) and rows."""
    shares = np.ones(len(revealed)) if shares is None else np.asarray(shares, float)
    used = [(r, w) for r, w in zip(revealed, shares) if w > 0]
    known = [(r, w) for r, w in used if r is not None]
    if not known:
        return None
    n = len(known[0][0].features)
    features = [reduce(_merge, (r.features[j] for r, _ in known)) for j in range(n)]
    if len(known) < len(used):
        # A member that reveals nothing may use any feature, in any way.
        features = [
            None
            if f is not None and f.ignored
            else (f if f is None else replace(f, flat_outside=False))
            for f in features
        ]
    boxes = [(r.boxes, w) for r, w in known if r.boxes is not None]
    if boxes:
        total = sum(w for _, w in boxes)
        boxes = (
            np.concatenate([b[0] for b, _ in boxes]),
            np.concatenate([b[1] for b, _ in boxes]),
            np.concatenate([b[2] * w / total for b, w in boxes]),
        )
    rows = [r.rows for r, _ in known if r.rows is not None]
    sources = list(dict.fromkeys(r.source for r, _ in known))
    inner = sources[0] if len(sources) == 1 else "(" + ", ".join(sources) + ")"
    return _Revealed(
        features,
        f"{name} > {inner}",
        boxes=boxes or None,
        rows=np.concatenate(rows) if rows else None,
    )


def _in_raw_space(revealed, columns, n_features):
    """Map what a member fitted on ``X[:, columns]`` reveals back to all of X."""
    if revealed is None:
        return None
    columns = np.asarray(columns)
    features = [_Feature.never_split("never seen") for _ in range(n_features)]
    for c, feature in zip(columns, revealed.features):
        features[c] = (
            None
            if feature is None or features[c] is None
            else _merge(features[c], feature)
        )
    boxes = None
    if revealed.boxes is not None:
        low, high, weights = revealed.boxes
        raw_low = np.full((n_features, low.shape[0]), -np.inf)
        raw_high = np.full((n_features, low.shape[0]), np.inf)
        # A column drawn twice (bootstrap_features) is bounded by both.
        np.maximum.at(raw_low, columns, low.T)
        np.minimum.at(raw_high, columns, high.T)
        boxes = (raw_low.T, raw_high.T, weights)
    rows = None
    if revealed.rows is not None and np.array_equal(
        np.sort(columns), np.arange(n_features)
    ):
        rows = revealed.rows[:, np.argsort(columns)]
    return _Revealed(features, revealed.source, boxes=boxes, rows=rows)


def _members(estimator):
    """Return ``(members, shares, columns)`` a meta-estimator predicts with.

    ``None`` for an estimator that is not a wrapper or ensemble of others;
    ``columns`` (or None) lists the raw columns each member sees; a ``None``
    member stands for one that sees the raw input but reveals nothing.
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import BaggingRegressor, StackingRegressor, VotingRegressor
    from sklearn.frozen import FrozenEstimator
    from sklearn.multioutput import MultiOutputRegressor

    if isinstance(estimator, FrozenEstimator):
        return [estimator.estimator], None, None
    if isinstance(estimator, TransformedTargetRegressor):
        return [estimator.regressor_], None, None
    if isinstance(estimator, BaggingRegressor):
        return estimator.estimators_, None, estimator.estimators_features_
    if isinstance(estimator, VotingRegressor):
        return estimator.estimators_, estimator.weights, None
    if isinstance(estimator, StackingRegressor):
        # With passthrough, the final estimator sees the raw input too.
        extra = [None] if estimator.passthrough else []
        return list(estimator.estimators_) + extra, None, None
    if isinstance(estimator, MultiOutputRegressor):
        return estimator.estimators_, None, None
    return None


# Steps that leave the features a later step sees in raw input units.
def _keeps_raw_input(step):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(step, FunctionTransformer):
        return step.func is None
    if isinstance(step, SimpleImputer):
        # No indicator columns appended, no empty column dropped.
        return step.indicator_ is None and (
            step.keep_empty_features or not any(v != v for v in step.statistics_)
        )
    return False


def _is_monotone_per_feature(step):
    from sklearn.preprocessing import (
        MaxAbsScaler,
        MinMaxScaler,
        QuantileTransformer,
        RobustScaler,
        StandardScaler,
    )

    scalers = (StandardScaler, MinMaxScaler, RobustScaler, MaxAbsScaler)
    return isinstance(step, (*scalers, QuantileTransformer))


def _mapped_back(revealed, step):
    """Map what a later step reveals back through a per-feature monotone ``step``."""

    def inverse(X):
        finite = np.isfinite(X)  # open box sides stay open
        return np.where(finite, step.inverse_transform(np.where(finite, X, 0.0)), X)

    def inverse_columns(columns):
        table = np.zeros((max(len(c) for c in columns), len(columns)))
        for j, c in enumerate(columns):
            table[: len(c), j] = c
        table = inverse(table)
        return [table[: len(c), j] for j, c in enumerate(columns)]

    step_name = f"{type(step).__name__}.inverse_transform"
    features = list(revealed.features)
    n = len(features)
    known = [j for j in range(n) if features[j] is not None]
    if known:
        columns = [np.zeros(0)] * n
        for j in known:
            f = features[j]
            columns[j] = np.concatenate(
                [
                    f.values,
                    [f.low, f.high],
                    [] if f.thresholds is None else f.thresholds,
                ]
            )
        mapped = inverse_columns(columns)
        for j in known:
            f, m = features[j], mapped[j]
            low, high = m[f.values.size], m[f.values.size + 1]
            if f.thresholds is not None:
                # Integer features show again (thresholds back at k + 0.5).
                t = _threshold_feature(
                    m[f.values.size + 2 :], f"{step_name} > {f.origin}"
                )
                if t.integer:
                    low, high = np.round(low), np.round(high)
                low, high = min(t.low, low), max(t.high, high)
                values = np.concatenate([t.thresholds, [low, high]])
                features[j] = replace(t, values=values, low=low, high=high)
            else:
                features[j] = replace(
                    f, values=m[: f.values.size], low=low, high=high, scale=None
                )
    boxes = revealed.boxes
    if boxes is not None:
        boxes = (inverse(boxes[0]), inverse(boxes[1]), boxes[2])
    rows = None if revealed.rows is None else inverse(revealed.rows)
    return _Revealed(
        features, f"{step_name} > {revealed.source}", boxes=boxes, rows=rows
    )


def _reveal_steps(steps, n_features, max_trees, rng):
    """What a Pipeline's ``steps`` reveal about the raw input of the first."""
    first, rest = steps[0], steps[1:]
    if not rest:
        return _reveal(first, n_features, max_trees, rng)
    if _keeps_raw_input(first):
        later = _reveal_steps(rest, n_features, max_trees, rng)
        return later and replace(
            later, source=f"{type(first).__name__} > {later.source}"
        )
    if _is_monotone_per_feature(first):
        later = _reveal_steps(rest, n_features, max_trees, rng)
        if later is not None:
            return _mapped_back(later, first)
    features = _transformer_features(first, n_features)
    if features is None or len(features) != n_features:
        return None
    origins = dict.fromkeys(f.origin for f in features if f is not None)
    return _Revealed(features, "; ".join(origins))


def _reveal(estimator, n_features, max_trees, rng):
    """Return what a fitted ``estimator`` reveals about its raw input, or None."""
    from sklearn.pipeline import Pipeline

    name = type(estimator).__name__
    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s not in (None, "passthrough")]
        if not steps:
            return None
        revealed = _reveal_steps(steps, n_features, max_trees, rng)
        return revealed and replace(revealed, source=f"{name} > {revealed.source}")
    members = _members(estimator)
    if members is not None:
        members, shares, columns = members
        budget = max(1, max_trees // max(len(members), 1))
        revealed = [
            None
            if m is None
            else _reveal(m, n_features if columns is None else len(c), budget, rng)
            for m, c in zip(
                members, columns if columns is not None else [None] * len(members)
            )
        ]
        if columns is not None:
            revealed = [
                _in_raw_space(r, c, n_features) for r, c in zip(revealed, columns)
            ]
        return _combine(name, revealed, shares)
    return _reveal_trees(estimator, n_features, max_trees, rng) or _reveal_rows(
        estimator, n_features
    )


# -- assembly -----------------------------------------------------------------
def _assemble(revealed, random_state):
    source = f"teacher: {revealed.source}"
    if revealed.boxes is None and revealed.rows is not None:
        return InputDomain.from_data(
            revealed.rows, random_state=random_state, source=source
        )
    features = revealed.features
    if all(f is None for f in features):
        return None
    n = len(features)
    marginals, scale = [], np.ones(n)
    low, high = np.full(n, -np.inf), np.full(n, np.inf)
    integer, ignored, categories = np.zeros(n, bool), np.zeros(n, bool), {}
    for j, f in enumerate(features):
        if f is None:
            f = _Feature.normal(0.0, 1.0, "unknown: standard normal")
        values = np.asarray(f.values, dtype=np.float64)
        marginals.append(values)
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
    return InputDomain.from_marginals(
        marginals,
        scale,
        boxes=revealed.boxes,
        source=source,
        low=low,
        high=high,
        integer=integer,
        categories=categories,
        ignored=ignored,
        flat_outside=[f is not None and f.flat_outside for f in features],
    )


def infer_domain(teacher, n_features, random_state=0):
    """Return the input domain the fitted ``teacher`` reveals, or ``None``.

    Sees through wrappers and ensembles (FrozenEstimator,
    TransformedTargetRegressor, Bagging, Voting, Stacking and
    MultiOutputRegressor: their members' domains pooled) and through Pipeline
    steps that keep the raw input (imputers, identity) or map it back
    (scalers). It reads scalers and encoders, trees' leaves and thresholds
    (sklearn trees, forests and gradient boosting, HistGradientBoosting,
    XGBoost, LightGBM: a mixture of the count-weighted leaf boxes and a
    uniform box over the thresholds' range), and rows some models keep
    (k-nearest neighbours, support vectors, Gaussian processes).
    """
    rng = np.random.default_rng(random_state)
    revealed = _reveal(teacher, n_features, _MAX_TREES, rng)
    return None if revealed is None else _assemble(revealed, random_state)
