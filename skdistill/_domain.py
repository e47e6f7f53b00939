"""The input domain: where synthetic queries may live.

A domain is a per-feature affine map between a *unit space*, where the base
distribution is standard (normal or uniform on [-1, 1]) and where query
strategies take their optimisation steps, and the *input space* the teacher
sees, plus hard per-feature bounds that every query respects.
"""

import copy

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.special import ndtri

__all__ = ["InputDomain"]

_DISTRIBUTIONS = ("normal", "uniform", "empirical", "marginal", "boxes")
# Unit-space scale of features the teacher provably ignores: the student's
# standardisation maps them to ~0, so it ignores them too, whatever values
# real rows hold there.
_IGNORED_SCALE = 1e20
_MAX_ROWS = 20_000
# A tree domain's share of queries drawn from the whole box rather than a leaf:
# at least half of either part's density everywhere.
_BOXES_UNIFORM_FRACTION = 0.5


def _as_vector(value, name, n_features=None):
    """Return ``value`` as a finite-or-inf float64 vector, broadcasting scalars."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        if n_features is None:
            raise ValueError(f"{name} must be a 1-D array, got the scalar {value!r}.")
        arr = np.full(n_features, float(arr))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}.")
    if n_features is not None and arr.shape[0] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but the domain has {n_features} "
            "features."
        )
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN.")
    return arr


def _nearest_other(points, k_tree_features=16, candidates=8, chunk=1024):
    """Index of each (distinct) point's nearest other point, by exact distance.

    A k-d tree for few features; else a matrix product ranks ``candidates``
    per point, whose exact distances then pick the nearest (lowest index on
    a tie), so that the answer does not depend on BLAS's threads.
    """
    n, d = points.shape
    if d <= k_tree_features or n <= candidates + 1:
        return cKDTree(points).query(points, k=2, workers=1)[1][:, 1]
    squared = np.einsum("ij,ij->i", points, points)
    nearest = np.empty(n, dtype=np.intp)
    for start in range(0, n, chunk):
        block = points[start : start + chunk]
        rows = np.arange(start, start + block.shape[0])
        approx = squared[rows, None] - 2 * block @ points.T + squared[None, :]
        approx[np.arange(block.shape[0]), rows] = np.inf
        pick = np.sort(np.argpartition(approx, candidates, axis=1)[:, :candidates])
        exact = ((points[pick] - block[:, None, :]) ** 2).sum(axis=2)
        nearest[rows] = pick[np.arange(block.shape[0]), exact.argmin(axis=1)]
    return nearest


class InputDomain:
    """Per-feature base distribution and bounds for synthetic queries.

    Queries are drawn in a unit space (``z``) from a standard normal, a
    uniform distribution on ``[-1, 1]``, or (``"empirical"``) unlabelled rows
    mixed with their nearest neighbours, and mapped to the input space by
    ``x = loc + scale * z``, then clipped to ``[low, high]``. Query strategies
    optimise in the unit space, so step sizes mean "so many standard
    deviations" whatever the units of the features are.

    Build one with the class methods :meth:`standard_normal`,
    :meth:`from_mean_scale`, :meth:`from_bounds` or :meth:`from_data`, or pass
    a dict with keys ``loc``/``scale`` or ``low``/``high`` as the ``domain``
    parameter of :class:`~skdistill.DataFreeDistillRegressor`.

    Parameters
    ----------
    loc : array-like of shape (n_features,)
        Centre of the base distribution, in input units.
    scale : array-like of shape (n_features,)
        Spread of the base distribution (standard deviation for ``"normal"``,
        half-width for ``"uniform"``). Zero marks a constant feature.
    low, high : array-like of shape (n_features,), default=None
        Hard bounds. ``None`` means unbounded (``-inf`` / ``+inf``).
    distribution : {"normal", "uniform", "empirical"}, default="normal"
        Base distribution in the unit space.
    rows : array-like of shape (n_rows, n_features), default=None
        Unlabelled rows (input units) for the ``"empirical"`` distribution.
    jitter : float, default=0.1
        Standard deviation of the unit-space noise added to empirical rows
        and marginal values.
    swap_probability : float in [0, 1], default=0.0
        For the ``"empirical"`` distribution: the probability that each value
        of a drawn row moves to its nearest neighbour row's value plus
        Gaussian noise of their distance (MUNGE, Bucilă, Caruana &
        Niculescu-Mizil 2006); categorical features take the neighbour's
        level. Neighbours are found in the unit space among the rows with
        other values.
    marginals : list of 1-D arrays, default=None
        For the ``"marginal"`` distribution: per feature, values (input units)
        that each feature is drawn from independently, e.g. a fitted
        scaler's quantiles or a tree ensemble's split thresholds.
    integer : array-like of bool, default=None
        Features whose queries are rounded to integers.
    categories : dict of int to array-like, default=None
        Categorical features and their values: queries snap to the nearest.
    boxes : tuple (low, high, weights), default=None
        For the ``"boxes"`` distribution: ``low`` and ``high`` of shape
        (n_boxes, n_features) and ``weights`` of shape (n_boxes,). A query
        picks a box with probability proportional to its weight and is
        uniform inside it (within the domain's bounds). A tree's leaves are
        such boxes, weighted by the training samples that reached them.
        ``marginals`` is needed too (for quantile-based strategies).
    uniform_fraction : float, default=0.0
        For the ``"boxes"`` distribution: the share of queries drawn uniformly
        from the whole box ``[low, high]`` (finite bounds, else
        :meth:`box`) instead of from a weighted box, so that queries cover
        the whole range as well as the dense regions. Integer features are
        then uniform over their integers, categorical ones over their
        categories.
    flat_outside : array-like of bool, default=None
        Features on which the teacher is provably constant outside
        ``[low, high]`` (a tree model's features, bounded beyond its outermost
        split thresholds): the student clips them to the bounds, so that it
        is constant there too instead of extrapolating.
    ignored : array-like of bool, default=None
        Features the student does not take as input: its input
        standardisation maps them to zero. Those of zero ``scale`` (e.g. never
        split on by a tree ensemble) stay constant in queries; the others
        (the teacher's noise inputs, ``noise_features_``) follow the base
        distribution in every query, never rescaled or steered by a query
        strategy, so that the student learns the teacher's average over
        them.
    source : str, default="user"
        Where the domain came from, for the record (``domain_.source``).

    Attributes
    ----------
    n_features : int
        Number of features.

    Examples
    --------
    >>> from skdistill import InputDomain
    >>> d = InputDomain.from_bounds([0, -1], [10, 1])
    >>> d.loc, d.scale
    (array([5., 0.]), array([5., 1.]))
    """

    # Domains pickled before uniform_fraction existed draw from boxes only.
    uniform_fraction = 0.0
    flat_outside = None  # (and before flat_outside: no feature is known flat)
    swap_probability = 0.0  # (and before it: empirical rows only jittered)

    def __init__(
        self,
        loc,
        scale,
        low=None,
        high=None,
        distribution="normal",
        source="user",
        rows=None,
        jitter=0.1,
        marginals=None,
        integer=None,
        categories=None,
        ignored=None,
        boxes=None,
        uniform_fraction=0.0,
        flat_outside=None,
        swap_probability=0.0,
    ):
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}."
            )
        loc = _as_vector(loc, "loc")
        n = loc.shape[0]
        if n == 0:
            raise ValueError("A domain needs at least one feature.")
        scale = _as_vector(scale, "scale", n)
        if not np.isfinite(loc).all() or not np.isfinite(scale).all():
            raise ValueError("loc and scale must be finite.")
        if (scale < 0).any():
            raise ValueError(
                f"scale must be >= 0, got negative values at features "
                f"{np.flatnonzero(scale < 0).tolist()}."
            )
        low = np.full(n, -np.inf) if low is None else _as_vector(low, "low", n)
        high = np.full(n, np.inf) if high is None else _as_vector(high, "high", n)
        bad = np.flatnonzero(low > high)
        if bad.size:
            raise ValueError(
                f"low must be <= high for every feature; features {bad.tolist()} "
                f"have low > high (low={low[bad].tolist()}, high={high[bad].tolist()})."
            )
        if (distribution == "empirical") != (rows is not None):
            raise ValueError(
                "rows are needed for, and only for, distribution='empirical'."
            )
        if rows is not None:
            rows = np.asarray(rows, dtype=np.float64)
            if rows.ndim != 2 or rows.shape[1] != n or not np.isfinite(rows).all():
                raise ValueError(
                    f"rows must be a finite 2-D array with {n} columns; got shape "
                    f"{rows.shape}."
                )
        self.loc = loc
        self.scale = scale
        self.low = low
        self.high = high
        self.distribution = distribution
        self.source = source
        if (distribution in ("marginal", "boxes")) != (marginals is not None):
            raise ValueError(
                "marginals are needed for, and only for, distribution='marginal' "
                "or 'boxes'."
            )
        if (distribution == "boxes") != (boxes is not None):
            raise ValueError(
                "boxes are needed for, and only for, distribution='boxes'."
            )
        if boxes is not None:
            box_low, box_high, weights = (
                np.asarray(b, dtype=np.float64) for b in boxes
            )
            if (
                box_low.shape != box_high.shape
                or box_low.ndim != 2
                or box_low.shape[1] != n
            ):
                raise ValueError(f"boxes need low and high of shape (n_boxes, {n}).")
            if weights.shape != (box_low.shape[0],) or not (weights > 0).any():
                raise ValueError("box weights need one positive weight per box.")
            boxes = (box_low, box_high, weights)
        if not 0 <= uniform_fraction <= 1 or (uniform_fraction and boxes is None):
            raise ValueError(
                "uniform_fraction must be in [0, 1], and 0 unless "
                f"distribution='boxes'; got {uniform_fraction!r}."
            )
        if marginals is not None:
            if len(marginals) != n:
                raise ValueError(f"marginals needs {n} arrays, got {len(marginals)}.")
            marginals = [
                np.sort(np.asarray(v, dtype=np.float64).ravel()) for v in marginals
            ]
            if any(v.size == 0 or not np.isfinite(v).all() for v in marginals):
                raise ValueError("Every marginal needs at least one finite value.")
        if not 0 <= swap_probability <= 1 or (swap_probability and rows is None):
            raise ValueError(
                "swap_probability must be in [0, 1], and 0 unless "
                f"distribution='empirical'; got {swap_probability!r}."
            )
        self.rows = rows
        self.jitter = jitter
        self.swap_probability = float(swap_probability)
        self.marginals = marginals
        self.boxes = boxes
        self.uniform_fraction = float(uniform_fraction)
        self.flat_outside = (
            None if flat_outside is None else np.asarray(flat_outside, dtype=bool)
        )
        self.integer = (
            np.zeros(n, bool) if integer is None else np.asarray(integer, bool)
        )
        self.categories = {
            int(j): np.unique(np.asarray(v, dtype=np.float64))
            for j, v in (categories or {}).items()
        }
        self.ignored = (
            np.zeros(n, bool) if ignored is None else np.asarray(ignored, bool)
        )
        if self.integer.shape != (n,) or self.ignored.shape != (n,):
            raise ValueError(f"integer and ignored need {n} booleans.")

    # -- constructors -----------------------------------------------------
    @classmethod
    def standard_normal(cls, n_features, source="default: standard normal"):
        """Return the paper's domain: N(0, 1) per feature, unbounded."""
        return cls(np.zeros(n_features), np.ones(n_features), source=source)

    @classmethod
    def from_mean_scale(
        cls, mean, scale, low=None, high=None, source="user: mean/scale"
    ):
        """Return a normal domain with the given per-feature mean and scale."""
        return cls(mean, scale, low=low, high=high, source=source)

    @classmethod
    def from_bounds(cls, low, high, source="user: bounds"):
        """Return a uniform domain on the box ``[low, high]``.

        Raises ``ValueError`` unless ``low < high`` for every feature and both
        are finite.
        """
        low = _as_vector(low, "low")
        high = _as_vector(high, "high", low.shape[0])
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError(
                "Bounds must be finite; use from_mean_scale for open domains."
            )
        bad = np.flatnonzero(low >= high)
        if bad.size:
            raise ValueError(
                f"low must be < high for every feature; features {bad.tolist()} have "
                f"low >= high (low={low[bad].tolist()}, high={high[bad].tolist()})."
            )
        return cls(
            (low + high) / 2,
            (high - low) / 2,
            low=low,
            high=high,
            distribution="uniform",
            source=source,
        )

    @classmethod
    def from_data(
        cls,
        X,
        jitter=0.0,
        max_rows=_MAX_ROWS,
        random_state=0,
        source="fit(X): unlabelled rows",
        categories=None,
        swap_probability=0.5,
    ):
        """Return an empirical domain: the rows of ``X``, mixed with their neighbours.

        A query is a row of ``X`` (at most ``max_rows`` of them, drawn at
        random) whose values each move, with probability
        ``swap_probability``, to the row's nearest neighbour's value plus
        Gaussian noise of their distance (MUNGE; a category takes the
        neighbour's level), then unit-space Gaussian noise of standard
        deviation ``jitter``. Queries so follow the joint distribution of the
        features, correlations and outliers included, and fill the space
        between nearby rows; the bounds are the range of ``X``. A feature
        that is constant in ``X`` stays constant in queries, and one whose
        values are all integers stays integer; ``categories`` (feature index
        to allowed values) keeps categorical features on their values.

        .. versionchanged:: 0.1
           ``swap_probability=0.5`` and ``jitter=0`` instead of rows with a
           jitter of 0.1.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(
                f"Need a 2-D array with at least 2 rows to fit a domain, got shape "
                f"{X.shape}."
            )
        if X.shape[0] > max_rows:
            rng = np.random.default_rng(random_state)
            X = X[rng.choice(X.shape[0], max_rows, replace=False)]
        return cls(
            X.mean(axis=0),
            X.std(axis=0),
            low=X.min(axis=0),
            high=X.max(axis=0),
            distribution="empirical",
            source=source,
            rows=X,
            jitter=jitter,
            integer=(X == np.round(X)).all(axis=0),
            categories=categories,
            swap_probability=swap_probability,
        )

    @classmethod
    def from_marginals(cls, marginals, scale, *, boxes=None, source, **kwargs):
        """Return a domain whose features follow ``marginals`` (values per feature).

        Its ``loc`` is each marginal's mean. With ``boxes`` (a tree model's
        weighted leaf boxes), queries pick a box, inside which each feature
        follows its marginal, for half of them, and the whole box for the
        other half (``uniform_fraction=0.5``): the dense regions and every
        cell the trees tell apart. ``kwargs`` are the constructor's
        (``low``, ``high``, ``integer``, ``categories``, ...).
        """
        return cls(
            np.array([np.mean(v) for v in marginals]),
            scale,
            distribution="marginal" if boxes is None else "boxes",
            source=source + ("" if boxes is None else " + threshold box"),
            marginals=marginals,
            boxes=boxes,
            uniform_fraction=0.0 if boxes is None else _BOXES_UNIFORM_FRACTION,
            **kwargs,
        )

    @classmethod
    def from_param(cls, domain, n_features):
        """Build a domain from the estimator's ``domain`` parameter value.

        ``domain`` is an :class:`InputDomain`, or a dict with ``low`` and
        ``high`` (uniform box), or with ``loc``/``mean`` and ``scale`` (normal,
        optional ``low``/``high``).
        """
        if isinstance(domain, InputDomain):
            result = domain
        elif isinstance(domain, dict):
            keys = set(domain)
            if keys == {"low", "high"}:
                result = cls.from_bounds(domain["low"], domain["high"])
            elif (
                keys & {"loc", "mean"}
                and "scale" in keys
                and keys <= {"loc", "mean", "scale", "low", "high"}
            ):
                if {"loc", "mean"} <= keys:
                    raise ValueError("Give either 'loc' or 'mean' in domain, not both.")
                mean = domain["loc"] if "loc" in domain else domain["mean"]
                result = cls.from_mean_scale(
                    mean,
                    domain["scale"],
                    low=domain.get("low"),
                    high=domain.get("high"),
                )
            else:
                raise ValueError(
                    "A domain dict needs the keys {'low', 'high'} (a uniform box) or "
                    "{'loc', 'scale'} with optional 'low'/'high' (a normal "
                    f"distribution); got keys {sorted(keys)}."
                )
        else:
            raise TypeError(
                "domain must be None, a dict or an InputDomain; got "
                f"{type(domain).__name__}."
            )
        if result.n_features != n_features:
            raise ValueError(
                f"The domain has {result.n_features} features but the teacher takes "
                f"{n_features}."
            )
        return result

    # -- properties -------------------------------------------------------
    @property
    def n_features(self):
        return self.loc.shape[0]

    def clip_bounds(self):
        """``(low, high)`` the student clips its inputs to: the bounds of the
        ``flat_outside`` features, infinite elsewhere."""
        n = self.n_features
        flat = np.zeros(n, bool) if self.flat_outside is None else self.flat_outside
        low = np.where(flat & np.isfinite(self.low), self.low, -np.inf)
        high = np.where(flat & np.isfinite(self.high), self.high, np.inf)
        return low, high

    @property
    def input_scale(self):
        """Scale used to standardise the student's inputs.

        ``scale`` with zeros replaced by 1, and a huge scale for ignored
        features, so that the student ignores them.
        """
        return np.where(self.ignored, _IGNORED_SCALE, self._unit_scale)

    @property
    def _unit_scale(self):
        """Scale of the queries' unit space: ``scale`` with zeros replaced by 1."""
        return np.where(self.scale > 0, self.scale, 1.0)

    @property
    def averaged(self):
        """Ignored features that vary in queries (boolean mask).

        The student learns the teacher's average over them: queries draw them
        from the base distribution only (:meth:`redraw_averaged`).
        """
        return self.ignored & (self.scale > 0)

    def ignoring(self, features, source=None):
        """Return a copy that also ignores ``features`` (a boolean mask).

        ``source`` replaces the copy's ``source`` when given.
        """
        domain = copy.copy(self)
        domain.__dict__.pop("_device_cache", None)
        domain.ignored = self.ignored | np.asarray(features, dtype=bool)
        if source is not None:
            domain.source = source
        return domain

    def box(self, width=3.0):
        """Return finite ``(low, high)``: the bounds, or ``loc ± width * scale``."""
        low = np.where(np.isfinite(self.low), self.low, self.loc - width * self.scale)
        high = np.where(
            np.isfinite(self.high), self.high, self.loc + width * self.scale
        )
        return low, high

    # -- sampling and maps (torch, on any device) --------------------------
    def _tensor(self, values, like):
        return torch.as_tensor(values, dtype=like.dtype, device=like.device)

    def sample_unit(self, n, generator, device="cpu"):
        """Draw ``n`` points of the base distribution in the unit space."""
        shape = (n, self.n_features)
        if n == 0:
            return torch.empty(shape, device=device)
        if self.distribution == "normal":
            return torch.randn(shape, generator=generator, device=device)
        if self.distribution == "uniform":
            return 2 * torch.rand(shape, generator=generator, device=device) - 1
        noise = self.jitter * torch.randn(shape, generator=generator, device=device)
        if self.distribution == "boxes":
            z = self._sample_boxes(n, generator, device)
            if self.uniform_fraction > 0:
                whole = self._sample_whole_box(n, generator, device)
                pick = torch.rand(n, 1, generator=generator, device=device)
                z = torch.where(pick < self.uniform_fraction, whole, z)
            return z
        if self.distribution == "empirical":
            rows = self._unit_rows(device)
            pick = torch.randint(
                rows.shape[0], (n,), generator=generator, device=device
            )
            z = rows[pick]
            if self.swap_probability > 0:
                z = self._swap_with_neighbours(z, pick, generator)
            return self.clip_unit(z + noise)
        # Marginal: each feature drawn independently from its own values.
        table, lengths = self._unit_marginals(device)
        u = torch.rand(shape, generator=generator, device=device)
        pick = torch.minimum((u * lengths).long(), lengths.long() - 1)
        z = table[torch.arange(self.n_features, device=device), pick]
        return self.clip_unit(z + noise)

    def _on_device(self, name, device, build):
        """Return the float32 tensors ``build()`` makes (numpy), cached per device.

        Sampling happens every round; the unit-space tables it reads are
        built once per device and dropped when pickling.
        """
        cache = self.__dict__.setdefault("_device_cache", {})
        key = (name, str(torch.device(device)))
        if key not in cache:
            cache[key] = tuple(
                torch.as_tensor(a, dtype=torch.float32, device=device) for a in build()
            )
        return cache[key]

    def _unit_rows(self, device):
        (rows,) = self._on_device("rows", device, lambda: [self._unit_rows_numpy()])
        return rows

    def _swap_with_neighbours(self, z, pick, generator):
        """MUNGE: each value, with ``swap_probability``, moves to the neighbour's.

        Each picked row's nearest other row (unit space, duplicates aside) is
        its neighbour; a swapped value is the neighbour's plus Gaussian noise
        of their distance, so queries fill the space between nearby rows
        (Bucilă, Caruana & Niculescu-Mizil, 2006).
        """
        (neighbours,) = self._on_device(
            "neighbour rows", z.device, lambda: [self._unit_neighbour_rows()]
        )
        other = neighbours[pick]
        noise = torch.randn(z.shape, generator=generator, device=z.device)
        if self.categories:  # a category takes the neighbour's level as it is
            noise[:, list(self.categories)] = 0
        swapped = other + noise * (z - other).abs()
        move = torch.rand(z.shape, generator=generator, device=z.device)
        return torch.where(move < self.swap_probability, swapped, z)

    def _neighbours(self):
        """Index of each row's nearest row with other values (unit space)."""
        unique, first, inverse = np.unique(
            self._unit_rows_numpy(), axis=0, return_index=True, return_inverse=True
        )
        if unique.shape[0] < 2:
            return np.arange(self.rows.shape[0])
        return first[_nearest_other(unique)[inverse.ravel()]]

    def _unit_rows_numpy(self):
        return (self.rows - self.loc) / self._unit_scale

    def _unit_neighbour_rows(self):
        """Each row's nearest neighbour (:meth:`_neighbours`), in the unit space."""
        return self._unit_rows_numpy()[self._neighbours()]

    def _sample_boxes(self, n, generator, device):
        """Pick boxes by weight; inside, each feature follows its marginal.

        A leaf box leaves most features open or wide; drawing them uniformly
        would pile queries into empty tails. Drawing each from its marginal
        truncated to the box keeps both the box's joint structure and the
        marginal density.
        """
        box_low, box_high, weights = self._unit_boxes(device)
        table, lengths = self._unit_marginals(device)
        pick = torch.multinomial(weights, n, replacement=True, generator=generator)
        low, high = (
            box_low[pick].T.contiguous(),
            box_high[pick].T.contiguous(),
        )  # (d, n)
        first = torch.searchsorted(table, low)
        last = torch.minimum(
            torch.searchsorted(table, high, right=True), lengths.long()[:, None]
        )
        count = (last - first).clamp_min(0)
        u = torch.rand(low.shape, generator=generator, device=device)
        idx = (first + (u * count).long()).clamp_max(table.shape[1] - 1)
        from_marginal = table.gather(1, idx)
        noise = self.jitter * torch.randn(low.shape, generator=generator, device=device)
        uniform = low + (high - low) * u
        z = torch.where(count > 0, from_marginal + noise, uniform)
        return torch.minimum(torch.maximum(z, low), high).T.contiguous()

    def _sample_whole_box(self, n, generator, device):
        """Draw uniformly from the whole box (integers and categories alike)."""
        low, high, categories = self._unit_whole_box(device)
        z = low + (high - low) * torch.rand(
            (n, self.n_features), generator=generator, device=device
        )
        for j, values in zip(self.categories, categories):
            pick = torch.randint(
                values.numel(), (n,), generator=generator, device=device
            )
            z[:, j] = values[pick]
        return z

    def _unit_whole_box(self, device):
        def build():
            low, high = self.box()
            # Half an integer beyond each end: after clipping and rounding,
            # every integer in the box is equally likely.
            half = np.where(self.integer, 0.5, 0.0)
            return (
                (low - half - self.loc) / self._unit_scale,
                (high + half - self.loc) / self._unit_scale,
                *(
                    (v - self.loc[j]) / self._unit_scale[j]
                    for j, v in self.categories.items()
                ),
            )

        low, high, *categories = self._on_device("whole box", device, build)
        return low, high, categories

    def _unit_boxes(self, device):
        def build():
            box_low, box_high, weights = self.boxes
            # Open sides end at the domain's bounds (or its 3-scale box).
            low, high = self.box()
            box_low = np.clip(np.maximum(box_low, low), low, high)
            box_high = np.maximum(
                np.clip(np.minimum(box_high, high), low, high), box_low
            )
            return (
                (box_low - self.loc) / self._unit_scale,
                (box_high - self.loc) / self._unit_scale,
                weights,
            )

        return self._on_device("boxes", device, build)

    def _unit_marginals(self, device):
        def build():
            width = max(v.size for v in self.marginals)
            # Padded with +inf so that each row stays sorted for searchsorted.
            table = np.full((self.n_features, width), np.inf)
            for j, v in enumerate(self.marginals):
                table[j, : v.size] = (v - self.loc[j]) / self._unit_scale[j]
            return table, [v.size for v in self.marginals]

        return self._on_device("marginals", device, build)

    def ppf(self, u):
        """Map uniform ``[0, 1)`` numbers to the base distribution (numpy)."""
        u = np.asarray(u, dtype=np.float64)
        if self.distribution == "normal":
            return ndtri(np.clip(u, 1e-6, 1 - 1e-6))
        if self.distribution == "uniform":
            return 2 * u - 1
        # Empirical and marginal: each feature's own quantile function.
        columns = self.rows.T if self.rows is not None else self.marginals
        return np.column_stack(
            [
                np.quantile((v - self.loc[j]) / self._unit_scale[j], u[:, j])
                for j, v in enumerate(columns)
            ]
        )

    def to_input(self, z):
        """Map unit-space points to the input space, clip, and round or snap.

        Integer features are rounded and categorical ones snapped to their
        nearest category; gradients pass straight through both, so gradient
        steps in the unit space still see the teacher's slope.
        """
        return self.snap(
            self.clip(self._tensor(self.loc, z) + self._tensor(self.scale, z) * z)
        )

    def snap(self, x):
        """Round integer features and snap categorical ones (input space).

        The values are exact (a category matches bit for bit); gradients pass
        straight through.
        """
        if not (self.integer.any() or self.categories):
            return x
        snapped = x.detach().clone()
        if self.integer.any():
            cols = torch.as_tensor(np.flatnonzero(self.integer), device=x.device)
            snapped[:, cols] = torch.round(snapped[:, cols])
        for j, values in self.categories.items():
            v = self._tensor(values, x)
            if v.numel() > 1:
                idx = torch.bucketize(snapped[:, j].contiguous(), (v[1:] + v[:-1]) / 2)
            else:
                idx = torch.zeros_like(snapped[:, j], dtype=torch.long)
            snapped[:, j] = v[idx]
        # Exactly the snapped values forward (x - x.detach() is exactly 0; a
        # category must match bit for bit), x's gradient backward.
        return snapped + (x - x.detach())

    def to_unit(self, x):
        """Map input-space points to the unit space (constant features map to 0)."""
        return (x - self._tensor(self.loc, x)) / self._tensor(self._unit_scale, x)

    def clip(self, x):
        """Clip input-space points to ``[low, high]``."""
        return torch.clamp(x, self._tensor(self.low, x), self._tensor(self.high, x))

    def clip_unit(self, z):
        """Clip unit-space points so that they map inside the bounds."""
        low = (self.low - self.loc) / self._unit_scale
        high = (self.high - self.loc) / self._unit_scale
        return torch.clamp(z, self._tensor(low, z), self._tensor(high, z))

    def sample(self, n, generator, device="cpu"):
        """Draw ``n`` queries from the base distribution, in the input space."""
        return self.to_input(self.sample_unit(n, generator, device))

    def redraw_averaged(self, x, generator):
        """Return ``x`` with its :attr:`averaged` features drawn afresh.

        Whatever a query strategy did to them (rescaled, climbed the gap),
        they then follow the base distribution, independent of the other
        features, as the teacher's average over them requires. ``x`` itself
        is returned, drawing nothing, when no feature is averaged.
        """
        averaged = self.averaged
        if not averaged.any():
            return x
        fresh = self.sample(x.shape[0], generator, x.device)
        columns = torch.as_tensor(averaged, device=x.device)
        return torch.where(columns, fresh.to(x.dtype), x)

    def contains(self, x, atol=1e-5):
        """Return whether every row of ``x`` (numpy or tensor) lies within the bounds."""
        x = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
        tol = atol * (1 + np.abs(x))
        return bool(np.all((x >= self.low - tol) & (x <= self.high + tol)))

    def __repr__(self):
        def fmt(a):
            return np.array2string(a, precision=3, threshold=6, edgeitems=2)

        bounded = np.isfinite(self.low).any() or np.isfinite(self.high).any()
        bounds = f", low={fmt(self.low)}, high={fmt(self.high)}" if bounded else ""
        rows = (
            f", rows={self.rows.shape[0]}, jitter={self.jitter}, "
            f"swap_probability={self.swap_probability}"
            if self.rows is not None
            else ""
        )
        mixed = (
            f", uniform_fraction={self.uniform_fraction}"
            if self.uniform_fraction
            else ""
        )
        return (
            f"InputDomain({self.distribution}{mixed}, n_features={self.n_features}, "
            f"loc={fmt(self.loc)}, scale={fmt(self.scale)}{bounds}{rows}, "
            f"source={self.source!r})"
        )

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_device_cache", None)  # device tensors: rebuilt on demand
        return state

    def __eq__(self, other):
        if not isinstance(other, InputDomain):
            return NotImplemented
        same_marginals = (self.marginals is None) == (other.marginals is None) and all(
            np.array_equal(a, b)
            for a, b in zip(self.marginals or [], other.marginals or [])
        )
        return (
            self.distribution == other.distribution
            and self.jitter == other.jitter
            and self.uniform_fraction == other.uniform_fraction
            and self.swap_probability == other.swap_probability
            and same_marginals
            and self.categories.keys() == other.categories.keys()
            and all(
                np.array_equal(v, other.categories[j])
                for j, v in self.categories.items()
            )
            and all(
                np.array_equal(getattr(self, a), getattr(other, a))
                for a in ("loc", "scale", "low", "high", "rows", "integer", "ignored")
            )
        )

    __hash__ = None
