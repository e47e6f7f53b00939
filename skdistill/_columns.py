"""Tables: a teacher's DataFrame columns as a numeric code space, and back.

A teacher fitted on a DataFrame with text or ``category`` columns cannot take
the float arrays that query strategies make. :class:`TableSchema` reads, from
the fitted teacher (and from a frame, when one is given), what each column
holds, and maps between the teacher's frames and a *code space* that the
distiller works in:

* one float feature per teacher column, in the teacher's column order;
  numeric columns keep their values; text, ``category`` and ``bool`` columns
  become integer codes ``0 .. k-1`` into the column's known levels (for text
  and categories with missing values seen, NaN is one more level, the last);
* then one binary feature per numeric column where the teacher has seen
  missing values: a missing indicator (1 where the value is missing).

Queries live in the code space (:meth:`TableSchema.domain`, where codes are
categorical features, so every query is valid); the teacher gets them as a
frame (:meth:`TableSchema.to_frame`); user frames come in through
:meth:`TableSchema.encode`; the student's network sees codes through
:class:`CodeExpansion` (one-hot for codes); and :meth:`TableSchema.to_onnx`
does ``encode`` in ONNX, one input per column, to put in front of an
exported student (:meth:`TableSchema.compose_with`).

This module needs pandas: import it only for a teacher fitted on a frame.
"""

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from pandas.api.types import CategoricalDtype
from scipy.special import ndtri
from torch import nn

from ._domain import InputDomain
from ._introspection import (
    _hist_gradient_boosting_order,
    _scaler_features,
    _threshold_feature,
)
from ._student import MLPStudent
from ._teachers import unwrap_fitted as _unwrap

__all__ = ["CodeExpansion", "Column", "TableSchema", "TableStudent"]

_KINDS = ("number", "integer", "bool", "category")
_GRID = 256  # values per column in a marginal distribution
_UNIFORM_SHARE = 0.1  # of a category's query mass spread evenly over its levels
_UNKNOWN = "unknown"


def _text_dtype():
    """The dtype pandas gives text read from a file (``str`` in pandas 3)."""
    return pd.Series(["a"]).dtype


def _is_missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def _family(values):
    """What a column's values are: "number", "bool", "text", "empty" or "mixed"."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, CategoricalDtype):
        return (
            _family(pd.Series(dtype.categories)) if len(dtype.categories) else "empty"
        )
    if dtype is not None and pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if dtype is not None and pd.api.types.is_numeric_dtype(dtype):
        return "number"
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "string":
        return "text"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number"
    if inferred == "boolean":
        return "bool"
    if inferred == "empty":
        return "empty"
    return "mixed"


def _describe(values, n=3):
    shown = ", ".join(repr(v) for v in list(values)[:n])
    return shown + (", ..." if len(values) > n else "")


@dataclass
class Column:
    """What is known about one of the teacher's columns.

    Attributes
    ----------
    name : str
        The column's name in the teacher's frames.
    kind : {"number", "integer", "bool", "category"}
        ``"integer"``: whole numbers of an integer dtype (rebuilt as float64
        where missing values occur, as pandas holds them); ``"bool"`` and
        ``"category"`` are coded ``0 .. k-1`` into ``levels``.
    dtype : pandas or numpy dtype
        The dtype :meth:`TableSchema.to_frame` rebuilds the column with.
    levels : list or None
        Categorical kinds: the values the teacher knows, in code order, never
        invented; the missing marker the teacher saw (``nan`` or ``None``)
        is the last level when ``missing``.
    missing : bool
        Whether the teacher has seen (or handles, through an imputer) missing
        values here.
    origin : str
        Where the levels (categorical kinds) or the range (numbers) were
        learned, e.g. ``"OneHotEncoder.categories_"``, ``"X"``, ``"unknown"``.
    low, high : float
        Hard bounds of the numbers (``-inf``/``inf`` where unknown).
    loc, scale : float or None
        Centre and spread of the numbers; ``None`` where unknown.
    integer : bool
        Whether numeric queries are rounded to integers.
    values : ndarray or None
        Numbers: values that queries are drawn from (a grid or quantiles).
    frequencies : ndarray or None
        Categorical kinds: share of each level in the frame given to
        :meth:`TableSchema.from_teacher`; ``None`` without a frame.
    missing_fraction : float or None
        Numbers: share of missing values in that frame.
    fill_value : float
        Numbers: the value a missing entry is coded as (next to its
        indicator): the teacher's imputer's statistic, else the frame's
        median, else the known ``loc``, else the middle of the bounds, else 0.
    ignored : bool
        The teacher drops the column (``ColumnTransformer`` ``"drop"``) or
        never splits on it: coded as a constant.
    flat_outside : bool
        Numbers: the teacher is provably constant beyond ``[low, high]``
        (learned from a tree model's split thresholds).
    required_dtype : bool
        The teacher needs exactly ``dtype`` (LightGBM's ``category`` columns),
        whatever a frame says. (HistGradientBoosting's ``from_dtype``
        columns need a ``category`` dtype, any categories: a frame's
        ``category`` dtype replaces the teacher's, a ``str`` one does not.)
    """

    name: str
    kind: str = "number"
    dtype: object = None
    levels: list = None
    missing: bool = False
    origin: str = _UNKNOWN
    low: float = -np.inf
    high: float = np.inf
    loc: float = None
    scale: float = None
    integer: bool = False
    values: np.ndarray = field(default=None, repr=False)
    frequencies: np.ndarray = field(default=None, repr=False)
    missing_fraction: float = None
    fill_value: float = 0.0
    ignored: bool = False
    required_dtype: bool = False
    flat_outside: bool = False
    # Facts gathered before the kind is settled (not part of the schema).
    _imputer_fill: float = field(default=None, repr=False)
    _frame_median: float = field(default=None, repr=False)
    # Whether the levels' source would list a missing level it had seen.
    _missing_known: bool = field(default=False, repr=False)

    @property
    def categorical(self):
        """Whether the column is coded into levels (``bool`` or ``category``)."""
        return self.kind in ("bool", "category")

    @property
    def known_levels(self):
        """The levels without the missing marker."""
        return [v for v in self.levels if not _is_missing(v)]

    @property
    def n_levels(self):
        return len(self.levels)

    @property
    def missing_code(self):
        """The code of the missing level, or None."""
        return len(self.levels) - 1 if self.categorical and self.missing else None

    @property
    def indicator(self):
        """Whether the column has a missing indicator in the code space."""
        return self.kind in ("number", "integer") and self.missing and not self.ignored


class TableSchema:
    """The teacher's columns, their kinds and levels, and the code space.

    Build one with :meth:`from_teacher`. The code space has one feature per
    column, in ``names`` order, then one missing indicator per numeric
    column whose ``missing`` is set (``code_names`` names them all).

    Parameters
    ----------
    columns : list of Column
        In the teacher's column order.

    Attributes
    ----------
    columns : list of Column
    names : list of str
        The teacher's column names, in order.
    n_codes : int
        Width of the code space.
    code_names : list of str
        Names of the code-space features: the columns', then
        ``"missingindicator_<name>"`` per indicator (as sklearn's
        ``MissingIndicator`` names them).
    """

    def __init__(self, columns, boxes=None):
        self.columns = list(columns)
        self.boxes = boxes
        self.names = [c.name for c in self.columns]
        self._indicator_code = {}
        for j, column in enumerate(self.columns):
            if column.indicator:
                self._indicator_code[j] = len(self.columns) + len(self._indicator_code)
        self.n_codes = len(self.columns) + len(self._indicator_code)
        self.code_names = self.names + [
            f"missingindicator_{self.names[j]}" for j in self._indicator_code
        ]

    def __repr__(self):
        parts = [
            f"{c.name}: {c.kind}"
            + (f"[{len(c.levels)}]" if c.categorical else "")
            + ("+missing" if c.missing else "")
            for c in self.columns
        ]
        return f"TableSchema({', '.join(parts)})"

    def __getitem__(self, name):
        """The :class:`Column` named ``name``."""
        try:
            return self.columns[self.names.index(name)]
        except ValueError:
            raise KeyError(
                f"No column named {name!r}; columns: {self.names}."
            ) from None

    # -- reading the teacher ------------------------------------------------
    @classmethod
    def from_teacher(cls, teacher, X=None):
        """Return the schema of the frames ``teacher`` was fitted on, or ``None``.

        Reads the column names (``feature_names_in_`` of the teacher or of
        its first step), a ``ColumnTransformer``'s column lists (also inside
        a Pipeline, and Pipelines inside it), encoders' ``categories_``
        (``OneHotEncoder``, ``OrdinalEncoder``, ``TargetEncoder``; a NaN or
        None category means missing values were seen), imputers (missing
        values are handled), scalers' statistics (numeric ranges),
        ``HistGradientBoostingRegressor``'s categorical features and bin
        thresholds, and LightGBM's ``pandas_categorical`` and feature
        ranges. ``FrozenEstimator``, search CV (``best_estimator_``) and
        ``TransformedTargetRegressor`` are seen through.

        With ``X`` a DataFrame, its columns fill in what the teacher does
        not reveal (dtypes, levels of columns the teacher passes through,
        numeric ranges, missing values, level frequencies) and are checked
        against what it does: a column the teacher knows by text levels
        must not hold numbers, nor one it scales hold text. Levels always
        come from the teacher when it has them: a level only ``X`` has is
        one the teacher never saw.

        ``None`` means the plain numeric path applies: the teacher was
        fitted on an array, or on a frame whose columns are all numbers or
        booleans without missing values (such a frame is rebuilt from floats
        by its column names alone).

        Raises
        ------
        ValueError
            If the teacher knows text levels but no column names (it was
            fitted on an object array: fit it on a DataFrame), or ``X``
            disagrees with the teacher (other columns, text where the
            teacher takes numbers or the other way round).
        """
        estimator = _unwrap(teacher)
        names = _feature_names(estimator)
        n = len(names) if names is not None else getattr(estimator, "n_features_in_", 0)
        if not n:
            return None
        columns = [Column(name=str(j) if names is None else names[j]) for j in range(n)]
        boxes = _read_model(estimator, columns)
        if names is None:
            if any(
                c.levels is not None
                and _family(pd.Series(c.known_levels, dtype=object)) == "text"
                for c in columns
            ):
                raise ValueError(
                    f"The teacher {type(estimator).__name__} knows text categories but "
                    "no column names: it was fitted on an array. Fit it on a pandas "
                    "DataFrame to distil it."
                )
            return None
        if X is not None:
            _read_frame(X, columns, type(estimator).__name__)
        for column in columns:
            _settle(column)
        if not any(_needs_frame(c) for c in columns):
            return None
        return cls(columns, boxes)

    # -- the code space ----------------------------------------------------------
    def encode(self, X):
        """Return ``X``'s rows in the code space (float32, ``(n, n_codes)``).

        ``X`` must have the teacher's columns; in another order they are
        reordered by name (the names say which is which; the teacher's own
        ``predict`` would refuse). A level the teacher never saw, and a
        missing value where the teacher saw none, get the code NaN, which
        :class:`CodeExpansion` turns into all zeros, as
        ``OneHotEncoder(handle_unknown="ignore")`` does. A missing number
        sets the column's indicator and is coded as the column's
        ``fill_value``; where the teacher saw no missing values it is coded
        the same, with a warning. Columns the teacher ignores are coded as
        constants, their contents unchecked.

        Raises
        ------
        TypeError
            If ``X`` is not a DataFrame.
        ValueError
            If a column is missing or extra, or holds values of the wrong
            kind (text in a numeric column, numbers where the teacher knows
            text levels), naming the column.
        """
        X = self._checked_frame(X)
        codes = np.empty((len(X), self.n_codes), dtype=np.float32)
        for j, column in enumerate(self.columns):
            if column.ignored:
                codes[:, j] = _constant_code(column)
                continue
            series = X[column.name]
            if column.categorical:
                codes[:, j] = _level_codes(column, series)
                continue
            values = _numbers(column, series)
            missing = np.isnan(values)
            if missing.any() and not column.missing:
                warnings.warn(
                    f"Column {column.name!r} has {int(missing.sum())} missing "
                    f"value(s), but the teacher saw none there; they are coded "
                    f"as {column.fill_value:.6g}.",
                    UserWarning,
                    stacklevel=2,
                )
            codes[:, j] = np.where(missing, column.fill_value, values)
            if j in self._indicator_code:
                codes[:, self._indicator_code[j]] = missing
        return codes

    def teacher_frame(self, X):
        """Return ``X`` as the teacher takes it: its column order and categories.

        Columns are reordered by name (as :meth:`encode` does), and a column
        the teacher holds as ``category`` but ``X`` holds otherwise (text
        read from a CSV file, say) is cast to the teacher's categories: a
        value outside them becomes missing, as it would in the teacher's
        own frames. Other columns are left as they are.

        Raises
        ------
        TypeError, ValueError
            As :meth:`encode`, for a non-frame or other columns.
        """
        X = self._checked_frame(X)
        cast = {
            c.name: c.dtype
            for c in self.columns
            if isinstance(c.dtype, CategoricalDtype)
            and not isinstance(X[c.name].dtype, CategoricalDtype)
        }
        if not cast:
            return X
        X = X.copy()
        for name, dtype in cast.items():
            series = X[name].astype(object)
            X[name] = series.where(series.isin(dtype.categories)).astype(dtype)
        return X

    def to_frame(self, codes):
        """Return the teacher's frame for code-space rows (numpy or torch).

        Columns come in the teacher's order with its dtypes: integers as
        integers, ``category`` with the teacher's categories, text as the
        ``str`` or ``object`` dtype it was fitted with. Missing values
        appear only where the teacher saw them: the missing level of a
        categorical column, or a number whose indicator is set. Codes are
        rounded to the nearest level.

        Raises
        ------
        ValueError
            If ``codes`` is not ``(n, n_codes)`` or a code is NaN or outside
            ``0 .. k-1``.
        """
        if torch.is_tensor(codes):
            codes = codes.detach().cpu().numpy()
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != self.n_codes:
            raise ValueError(
                f"codes must have shape (n, {self.n_codes}); got {codes.shape}."
            )
        data = {}
        for j, column in enumerate(self.columns):
            if column.ignored:
                data[column.name] = _constant_series(column, len(codes))
            elif column.categorical:
                data[column.name] = _level_series(column, codes[:, j])
            else:
                values = codes[:, j]
                if j in self._indicator_code:
                    values = np.where(
                        codes[:, self._indicator_code[j]] >= 0.5, np.nan, values
                    )
                data[column.name] = _number_series(column, values)
        return pd.DataFrame(data, columns=self.names)

    def canonical(self, codes):
        """Return ``codes`` with numbers flagged missing set to their ``fill_value``.

        The teacher sees NaN wherever an indicator is set, whatever the
        number beside it; :meth:`encode` codes such a number as its
        ``fill_value``. Queries drawn from :meth:`domain` hold arbitrary
        numbers there: pass them through this method before training the
        student on them, so that it sees what ``encode`` gives it.
        Works on numpy arrays and torch tensors (on any device); returns
        ``codes`` itself when no column has an indicator.
        """
        if not self._indicator_code:
            return codes
        columns = list(self._indicator_code)
        flags = list(self._indicator_code.values())
        fill = [self.columns[j].fill_value for j in columns]
        if torch.is_tensor(codes):
            out = codes.clone()
            fill = torch.as_tensor(fill, dtype=codes.dtype, device=codes.device)
            out[:, columns] = torch.where(
                codes[:, flags] >= 0.5, fill, codes[:, columns]
            )
            return out
        out = np.array(codes, copy=True)
        out[:, columns] = np.where(
            out[:, flags] >= 0.5, np.asarray(fill, out.dtype), out[:, columns]
        )
        return out

    def domain(self, numeric_domain=None, levels="frequency", jitter=0.1):
        """Return an :class:`InputDomain` over the code space.

        Each code feature is drawn independently (a ``"marginal"`` domain):
        a categorical code from its levels, uniformly or (``levels=
        "frequency"``, where the frame given to :meth:`from_teacher` shows
        them) by the frame's frequencies mixed with 10% uniform, so that every
        level is queried; a missing indicator likewise (0.5 without a frame);
        a number from what the schema knows of it (a scaler's statistics,
        bin thresholds, the frame's quantiles), else from ``numeric_domain``,
        else from N(0, 1). Codes are categorical features of the domain and
        integer columns integer ones, so every query is a valid row; columns
        the teacher ignores are constant.

        Parameters
        ----------
        numeric_domain : InputDomain, default=None
            What the caller knows of the numbers (e.g. ``infer_domain``), over
            either all the teacher's columns or only its numeric ones, in
            order; used for the numeric columns the schema knows nothing of.
        levels : {"frequency", "uniform"}, default="frequency"
            How categorical codes and indicators are drawn.
        jitter : float, default=0.1
            Unit-space noise added to each draw (numbers only move; codes
            snap back to their level).
        """
        if levels not in ("frequency", "uniform"):
            raise ValueError(
                f"levels must be 'frequency' or 'uniform'; got {levels!r}."
            )
        numeric = [j for j, c in enumerate(self.columns) if not c.categorical]
        lookup = None
        if numeric_domain is not None:
            if numeric_domain.n_features == len(self.columns):
                lookup = {j: j for j in numeric}
            elif numeric_domain.n_features == len(numeric):
                lookup = {j: k for k, j in enumerate(numeric)}
            else:
                raise ValueError(
                    f"numeric_domain has {numeric_domain.n_features} features; the "
                    f"teacher has {len(self.columns)} columns, {len(numeric)} of them "
                    "numeric."
                )
        d = self.n_codes
        marginals, scale = [None] * d, np.zeros(d)
        low, high = np.full(d, -np.inf), np.full(d, np.inf)
        integer, ignored, categories = np.zeros(d, bool), np.zeros(d, bool), {}
        origins = set()
        for j, column in enumerate(self.columns):
            if column.ignored:
                marginals[j] = np.array([_constant_code(column)])
                ignored[j] = True
                continue
            if column.categorical:
                weights = column.frequencies if levels == "frequency" else None
                marginals[j] = _repeat_levels(column.n_levels, weights)
                categories[j] = np.arange(column.n_levels)
                low[j], high[j], integer[j] = 0, column.n_levels - 1, True
                origins.add(column.origin)
                continue
            if column.values is not None:
                values, lo, hi, spread = (
                    column.values,
                    column.low,
                    column.high,
                    column.scale,
                )
                origins.add(column.origin)
            elif lookup is not None:
                values, lo, hi, spread = _from_domain(numeric_domain, lookup[j])
                origins.add("numeric_domain")
            else:
                values = ndtri((np.arange(_GRID) + 0.5) / _GRID)
                lo, hi, spread = column.low, column.high, 1.0
                origins.add("unknown: standard normal")
            marginals[j] = np.clip(values, lo, hi)
            low[j], high[j] = lo, hi
            scale[j] = spread if spread is not None else np.std(marginals[j])
            integer[j] = column.integer
            if integer[j]:
                marginals[j] = np.round(marginals[j])
        for j, k in self._indicator_code.items():
            fraction = self.columns[j].missing_fraction
            if levels == "uniform" or fraction is None:
                weights = None
            else:
                weights = np.array([1 - fraction, fraction])
            marginals[k] = _repeat_levels(2, weights)
            categories[k] = np.arange(2)
            low[k], high[k], integer[k] = 0, 1, True
        for j in categories:
            scale[j] = np.std(marginals[j])
        flat = [c.flat_outside and not c.categorical for c in self.columns]
        boxes = self._code_boxes()
        return InputDomain.from_marginals(
            marginals,
            scale,
            boxes=boxes,
            source="table schema: "
            + "; ".join(sorted(origins))
            + ("" if boxes is None else "; leaf boxes"),
            low=low,
            high=high,
            jitter=jitter,
            integer=integer,
            categories=categories,
            ignored=ignored,
            flat_outside=flat + [False] * len(self._indicator_code),
        )

    def _code_boxes(self):
        """The teacher's leaf boxes over the code space (codes left open), or None."""
        if self.boxes is None:
            return None
        low, high, weights = self.boxes
        n = low.shape[0]
        code_low = np.full((n, self.n_codes), -np.inf)
        code_high = np.full((n, self.n_codes), np.inf)
        for j, column in enumerate(self.columns):
            if not column.categorical and not column.ignored:
                code_low[:, j], code_high[:, j] = low[:, j], high[:, j]
        return code_low, code_high, weights

    def expansion(self):
        """Return the :class:`CodeExpansion` for this code space.

        Codes of categorical columns are one-hot encoded; numbers, missing
        indicators and ignored columns pass through.
        """
        n_levels = [
            c.n_levels if c.categorical and not c.ignored else 0 for c in self.columns
        ] + [0] * len(self._indicator_code)
        names = []
        for column in self.columns:
            if column.categorical and not column.ignored:
                names += [f"{column.name}_{level}" for level in column.levels]
            else:
                names.append(column.name)
        names += self.code_names[len(self.columns) :]
        return CodeExpansion(n_levels, output_names=names)

    # -- ONNX: one input per column --------------------------------------------
    def onnx_inputs(self, X):
        """Return ``X`` as the inputs of :meth:`to_onnx`'s graph (a dict).

        One ``(n, 1)`` array per column, checked as :meth:`encode` checks:
        text for text levels (missing values as ``""``), ``int64`` for
        integer levels and integer columns without missing values, ``bool``
        for boolean columns, float32 otherwise.
        """
        X = self._checked_frame(X)
        feed = {}
        for column in self.columns:
            series = X[column.name]
            kind = _onnx_input_kind(column)
            if column.ignored:
                values = np.zeros(len(X), np.float32)
            elif kind == "string":
                values = series.to_numpy(dtype=object, na_value="").copy()
                bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
                if bad:
                    _level_codes(column, series)  # raises for the wrong kind
                    values[bad] = [str(values[i]) for i in bad]  # unseen anyway
                values = values.astype(str).astype(object)
            elif kind == "bool":
                _level_codes(column, series)  # checks the kind
                values = series.to_numpy(dtype=bool)
            elif column.categorical:
                _level_codes(column, series)
                values = pd.to_numeric(
                    series.astype(object)
                    if isinstance(series.dtype, CategoricalDtype)
                    else series
                ).to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                values = _numbers(column, series)
            if kind == "int64" and np.isnan(values).any():
                raise ValueError(
                    f"Column {column.name!r} has missing values, which the teacher "
                    "never saw there and the ONNX graph's int64 input cannot hold."
                )
            if kind in ("int64", "float"):
                values = values.astype(np.int64 if kind == "int64" else np.float32)
            feed[column.name] = values.reshape(-1, 1)
        return feed

    def to_onnx(self, opset=18, output_name="codes"):
        """Return an ONNX model computing :meth:`encode`, one input per column.

        Inputs are named as the columns, each of shape ``(n, 1)``: strings
        for columns with text levels (a missing value is the empty string
        ``""``), int64 for integer levels and for integer columns without
        missing values, bool for boolean columns, float32 otherwise (NaN for
        missing). Text and number levels map to their codes with
        ``ai.onnx.ml`` ``LabelEncoder`` nodes; an unseen level gives NaN. The
        single output ``output_name`` is the float32 code-space tensor
        ``(n, n_codes)``. :meth:`onnx_inputs` makes the inputs from a frame.
        Needs the ``onnx`` package.

        Raises
        ------
        ValueError
            If a text column both has missing values and the level ``""``
            (they could not be told apart).
        """
        from onnx import TensorProto, helper

        nodes, inputs, initializers, parts = [], [], [], []
        indicators = {}
        elem = {
            "string": TensorProto.STRING,
            "int64": TensorProto.INT64,
            "bool": TensorProto.BOOL,
            "float": TensorProto.FLOAT,
        }

        def const(name, value):
            initializers.append(
                helper.make_tensor(name, TensorProto.FLOAT, [], [float(value)])
            )
            return name

        for j, column in enumerate(self.columns):
            kind = _onnx_input_kind(column)
            x = column.name
            inputs.append(helper.make_tensor_value_info(x, elem[kind], [None, 1]))
            out = f"code_{j}"
            if column.ignored:
                # Shape (n, 1) whatever the input's type: a zero-width slice's
                # shape padded with the constant.
                shape = f"shape_{j}"
                nodes.append(helper.make_node("Shape", [x], [shape]))
                nodes.append(
                    helper.make_node(
                        "ConstantOfShape",
                        [shape],
                        [out],
                        value=helper.make_tensor(
                            "v", TensorProto.FLOAT, [1], [_constant_code(column)]
                        ),
                    )
                )
            elif kind == "bool":
                nodes.append(helper.make_node("Cast", [x], [out], to=TensorProto.FLOAT))
            elif column.categorical:
                known = column.known_levels
                codes = [float(k) for k in range(len(known))]
                if kind == "string":
                    keys = [str(v) for v in known]
                    if column.missing:
                        if "" in keys:
                            raise ValueError(
                                f"Column {column.name!r} has both missing values and "
                                "the level '' (empty text); the ONNX graph feeds "
                                "missing text as '' and could not tell them apart."
                            )
                        keys.append("")
                        codes.append(float(column.missing_code))
                    attrs = {"keys_strings": keys}
                elif kind == "int64":
                    attrs = {"keys_int64s": [int(v) for v in known]}
                else:
                    attrs = {"keys_floats": [float(v) for v in known]}
                mapped = out if kind != "float" or not column.missing else f"mapped_{j}"
                nodes.append(
                    helper.make_node(
                        "LabelEncoder",
                        [x],
                        [mapped],
                        domain="ai.onnx.ml",
                        values_floats=codes,
                        default_float=float("nan"),
                        **attrs,
                    )
                )
                if mapped != out:
                    nodes.append(helper.make_node("IsNaN", [x], [f"isnan_{j}"]))
                    nodes.append(
                        helper.make_node(
                            "Where",
                            [
                                f"isnan_{j}",
                                const(f"missing_code_{j}", column.missing_code),
                                mapped,
                            ],
                            [out],
                        )
                    )
            else:
                value = x
                if kind == "int64":
                    value = f"float_{j}"
                    nodes.append(
                        helper.make_node("Cast", [x], [value], to=TensorProto.FLOAT)
                    )
                nodes.append(helper.make_node("IsNaN", [value], [f"isnan_{j}"]))
                nodes.append(
                    helper.make_node(
                        "Where",
                        [f"isnan_{j}", const(f"fill_{j}", column.fill_value), value],
                        [out],
                    )
                )
                if j in self._indicator_code:
                    flag = f"indicator_{j}"
                    nodes.append(
                        helper.make_node(
                            "Cast", [f"isnan_{j}"], [flag], to=TensorProto.FLOAT
                        )
                    )
                    indicators[self._indicator_code[j]] = flag
            parts.append(out)
        parts += [indicators[k] for k in sorted(indicators)]
        nodes.append(helper.make_node("Concat", parts, [output_name], axis=1))
        graph = helper.make_graph(
            nodes,
            "skdistill_table_encoder",
            inputs,
            [
                helper.make_tensor_value_info(
                    output_name, TensorProto.FLOAT, [None, self.n_codes]
                )
            ],
            initializer=initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[
                helper.make_opsetid("", opset),
                helper.make_opsetid("ai.onnx.ml", 2),
            ],
            producer_name="skdistill",
        )
        return model

    def compose_with(self, student, input_name=None):
        """Return ``student`` (an ONNX model) fed by :meth:`to_onnx`'s graph.

        The result takes one input per column, as :meth:`to_onnx` does, and
        returns the student's outputs. ``student`` takes the code space in
        its input ``input_name`` (default: its first input); its names are
        prefixed with ``"student/"`` so that they cannot clash with column
        names. The encoder is built at the student's opset and IR version.
        """
        import onnx
        from onnx import compose

        if input_name is None:
            input_name = student.graph.input[0].name
        opset = next(
            (o.version for o in student.opset_import if o.domain in ("", "ai.onnx")), 18
        )
        coder = self.to_onnx(opset=opset, output_name="skdistill/codes")
        coder.ir_version = student.ir_version
        outputs = [o.name for o in student.graph.output]
        student = compose.add_prefix(student, "student/")
        merged = compose.merge_models(
            coder, student, io_map=[("skdistill/codes", "student/" + input_name)]
        )
        # The student's outputs keep their names, unless a column has one.
        for output, name in zip(merged.graph.output, outputs):
            if name not in self.names:
                merged.graph.node.append(
                    onnx.helper.make_node("Identity", [output.name], [name])
                )
                output.name = name
        onnx.checker.check_model(merged)
        return merged

    # -- helpers -------------------------------------------------------------------
    def _checked_frame(self, X):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"X must be a pandas DataFrame with the teacher's columns {self.names}; "
                f"got {type(X).__name__}."
            )
        given = [str(c) for c in X.columns]
        missing = [n for n in self.names if n not in given]
        extra = [c for c in given if c not in self.names]
        if missing or extra:
            said = []
            if missing:
                said.append(f"missing column(s) {missing}")
            if extra:
                said.append(f"column(s) the teacher was not fitted on {extra}")
            raise ValueError(
                f"X does not have the teacher's columns: {' and '.join(said)}. "
                f"The teacher's columns are {self.names}."
            )
        if len(set(given)) != len(given):
            raise ValueError(f"X has duplicated column names: {given}.")
        if given != self.names:
            X = X.set_axis(given, axis=1)[self.names]
        return X


class CodeExpansion(nn.Module):
    """Code-space rows to the student's network input: one-hot codes, numbers as is.

    Each categorical code of ``k`` levels becomes ``k`` outputs, one-hot
    (a NaN code, or one outside ``0 .. k-1``, gives all zeros); numbers pass
    through unchanged. Codes are rounded first. Gradients reach numbers only
    (a code's one-hot is piecewise constant): black-box teachers' query
    strategies move codes by random steps, not along gradients. Built from
    :meth:`TableSchema.expansion`; exports to ONNX (``Gather``, ``Round``,
    ``Equal``, ``Where``).

    Parameters
    ----------
    n_levels : list of int
        Per code feature: 0 for a number, else its number of levels.
    output_names : list of str, default=None
        Names of the outputs, for the record.

    Attributes
    ----------
    n_features : int
        Width of the input (the code space).
    n_outputs : int
        Width of the output.
    """

    def __init__(self, n_levels, output_names=None):
        super().__init__()
        source, level, number = [], [], []
        for j, k in enumerate(n_levels):
            k = int(k)
            if k < 0:
                raise ValueError(f"n_levels must be >= 0; got {k} at feature {j}.")
            if k == 0:
                source.append(j)
                level.append(0.0)
                number.append(True)
            else:
                source += [j] * k
                level += [float(v) for v in range(k)]
                number += [False] * k
        self.n_levels = [int(k) for k in n_levels]
        self.n_features = len(self.n_levels)
        self.n_outputs = len(source)
        self.output_names = None if output_names is None else list(output_names)
        self.register_buffer("source", torch.tensor(source, dtype=torch.long))
        self.register_buffer("level", torch.tensor(level, dtype=torch.float32))
        self.register_buffer("number", torch.tensor(number, dtype=torch.bool))

    def forward(self, x):
        picked = x.index_select(1, self.source)
        one_hot = (torch.round(picked) == self.level.to(x.dtype)).to(x.dtype)
        return torch.where(self.number, picked, one_hot)

    def output_standardization(self, loc, scale):
        """Return ``(loc, scale)`` of the outputs from the code space's.

        Numbers keep theirs (e.g. an ``InputDomain``'s ``loc`` and
        ``input_scale``, so that ignored columns stay ignored); one-hot
        outputs get 0 and 1, left as they are.
        """
        loc, scale = np.asarray(loc, np.float64), np.asarray(scale, np.float64)
        source = self.source.cpu().numpy()
        number = self.number.cpu().numpy()
        return (
            np.where(number, loc[source], 0.0),
            np.where(number, scale[source], 1.0),
        )

    def extra_repr(self):
        return f"n_features={self.n_features}, n_outputs={self.n_outputs}"


# -- reading a fitted teacher ------------------------------------------------------
class TableStudent(nn.Module):
    """An :class:`~skdistill.MLPStudent` behind a :class:`CodeExpansion`.

    The default student of a teacher fitted on a DataFrame: it takes rows of
    the code space (one code per categorical column, numbers as they are)
    and one-hot encodes the codes before its hidden layers, so that the
    levels of a column are unordered to it.

    Parameters
    ----------
    n_levels : list of int
        Per code feature: 0 for a number, else its number of levels
        (:meth:`TableSchema.expansion`).
    n_outputs : int, default=1
        Output width.
    hidden_layer_sizes : tuple of int, default=(50,)
        Width of each hidden layer.
    activation : {"tanh", "relu", "logistic", "gelu", "silu"}, default="tanh"
        Hidden activation.
    """

    def __init__(
        self, n_levels, n_outputs=1, hidden_layer_sizes=(50,), activation="tanh"
    ):
        super().__init__()
        self.expansion = CodeExpansion(n_levels)
        self.mlp = MLPStudent(
            self.expansion.n_outputs, n_outputs, hidden_layer_sizes, activation
        )

    def forward(self, x):
        return self.mlp(self.expansion(x))


def _feature_names(estimator):
    from sklearn.pipeline import Pipeline

    names = getattr(estimator, "feature_names_in_", None)
    if names is None and isinstance(estimator, Pipeline):
        names = getattr(estimator.steps[0][1], "feature_names_in_", None)
    if names is None:
        return None
    return [str(n) for n in names]


def _read_model(estimator, columns):
    """Fill ``columns`` with what ``estimator`` knows of them.

    Returns a tree model's count-weighted leaf boxes over the columns
    (``(low, high, weights)``, open on the columns they do not bound), or
    None.
    """
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s not in (None, "passthrough")]
        if len(steps) > 1:
            _read_transformer(steps[0], list(range(len(columns))), columns)
            return _read_passed_through(steps, columns)
        estimator = _unwrap(steps[-1])
    if hasattr(estimator, "_bin_mapper") and hasattr(estimator, "is_categorical_"):
        _read_hist_gradient_boosting(estimator, columns)
    elif type(estimator).__module__.split(".")[0] == "lightgbm":
        _read_lightgbm(estimator, columns)
    else:
        _read_transformer(estimator, list(range(len(columns))), columns)
        return None
    # A tree model on the columns themselves: its leaves are boxes over them.
    from ._introspection import _MAX_TREES, _reveal

    revealed = _reveal(estimator, len(columns), _MAX_TREES, np.random.default_rng(0))
    if revealed is None:
        return None
    for column, feature in zip(columns, revealed.features):
        _learn_counts(column, feature)
    return revealed.boxes


def _read_passed_through(steps, columns):
    """Ranges of the columns a ColumnTransformer passes through untransformed.

    The steps after it see those columns as they are: the ranges they reveal
    (a tree model's split thresholds, say) are the columns' own.
    """
    from sklearn.compose import ColumnTransformer

    from ._introspection import _MAX_TREES, _reveal_steps

    first = steps[0]
    if not isinstance(first, ColumnTransformer) or not hasattr(
        first, "output_indices_"
    ):
        return None
    width = max((s.stop for s in first.output_indices_.values()), default=0)
    revealed = _reveal_steps(steps[1:], width, _MAX_TREES, np.random.default_rng(0))
    if revealed is None:
        return None
    boxes = None
    if revealed.boxes is not None:  # leaf boxes, open but on passed-through columns
        low, high, weights = revealed.boxes
        boxes = (
            np.full((low.shape[0], len(columns)), -np.inf),
            np.full((low.shape[0], len(columns)), np.inf),
            weights,
        )
    for name, local in first._transformer_to_input_indices.items():
        transformer = (
            first.remainder if name == "remainder" else first.named_transformers_[name]
        )
        if not _is_passthrough(transformer):
            continue
        start = first.output_indices_[name].start
        for k, j in enumerate(local):
            feature = revealed.features[start + k]
            if feature is not None and columns[j].levels is None:
                feature.origin = f"{feature.origin} (passed through)"
                _learn_range(columns[j], feature)
                if boxes is not None:
                    boxes[0][:, j], boxes[1][:, j] = (
                        low[:, start + k],
                        high[:, start + k],
                    )
    return boxes


def _is_passthrough(transformer):
    """Whether a fitted ColumnTransformer's transformer leaves its columns as they are."""
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(transformer, str):
        return transformer == "passthrough"
    # A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer.
    return isinstance(transformer, FunctionTransformer) and transformer.func is None


def _read_transformer(step, indices, columns):
    """What a transformer applied to ``columns[indices]`` knows of them."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    if isinstance(step, ColumnTransformer):
        for name, local in step._transformer_to_input_indices.items():
            if len(local) == 0:
                continue
            transformer = (
                step.remainder
                if name == "remainder"
                else step.named_transformers_[name]
            )
            picked = [indices[k] for k in local]
            if isinstance(transformer, str) and transformer == "drop":
                for j in picked:
                    columns[j].ignored = True
            elif not isinstance(transformer, str):
                _read_transformer(transformer, picked, columns)
        return
    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            if inner in (None, "passthrough"):
                continue
            _read_transformer(inner, indices, columns)
            if not isinstance(inner, SimpleImputer):
                return  # later steps see transformed values, not the columns
        return
    name = type(step).__name__
    if isinstance(step, SimpleImputer):
        statistics = np.asarray(step.statistics_, dtype=object)
        for j, value in zip(indices, statistics):
            columns[j].missing = True
            if isinstance(value, (int, float, np.number)) and np.isfinite(float(value)):
                columns[j]._imputer_fill = float(value)
        return
    categories = getattr(step, "categories_", None)
    if categories is not None and len(categories) == len(indices):
        for j, levels in zip(indices, categories):
            _learn_levels(columns[j], levels, f"{name}.categories_")
        return
    features = _scaler_features(step) if hasattr(step, "n_features_in_") else None
    if features is not None and len(features) == len(indices):
        for j, feature in zip(indices, features):
            _learn_range(columns[j], feature)


def _learn_levels(
    column, levels, origin, dtype=None, missing_known=True, exact_dtype=False
):
    """Record a column's levels; ``dtype`` is one the teacher needs.

    With ``exact_dtype``, ``dtype`` is kept whatever a frame says; otherwise
    a frame's own ``category`` dtype may replace a teacher's ``category``.
    """
    if column.levels is not None:
        return  # the first transformer that reads the column wins
    column._missing_known = missing_known
    levels = list(levels)
    markers = [v for v in levels if _is_missing(v)]
    levels = [
        v.item() if isinstance(v, np.generic) else v
        for v in levels
        if not _is_missing(v)
    ]
    if markers:
        levels.append(markers[0])
        column.missing = True
    elif column.missing:
        levels.append(np.nan)  # an imputer before the encoder fills it in
    column.levels = levels
    column.origin = origin
    if dtype is not None:
        column.dtype, column.required_dtype = dtype, exact_dtype


def _learn_range(column, feature):
    if column.values is not None or column.levels is not None:
        return
    values = np.asarray(feature.values, dtype=np.float64)
    column.values = values
    column.low, column.high = float(feature.low), float(feature.high)
    column.loc = float(values.mean())
    column.scale = (
        float(feature.scale) if feature.scale is not None else float(values.std())
    )
    column.integer = column.integer or bool(feature.integer)
    column.ignored = column.ignored or bool(feature.ignored)
    column.flat_outside = bool(feature.flat_outside)
    column.origin = feature.origin


def _learn_counts(column, feature):
    """A number's values as its tree model's sample counts spread them."""
    if (
        feature is None
        or not feature.counted
        or column.values is None
        or column.levels is not None
        or column.ignored
    ):
        return
    column.values = np.clip(feature.values, column.low, column.high)
    column.loc = float(column.values.mean())
    column.scale = float(column.values.std())
    column.origin = f"{column.origin}, sample counts"


def _read_hist_gradient_boosting(estimator, columns):
    """Categories from the ``_preprocessor``; numbers' ranges from bin thresholds.

    sklearn (1.4 and later) encodes categorical features with an
    ``OrdinalEncoder`` in ``_preprocessor``, a ColumnTransformer whose
    output puts the categorical features first: ``_bin_mapper``'s
    ``bin_thresholds_`` follow that output order, not the columns'.
    """
    name = type(estimator).__name__
    preprocessor = getattr(estimator, "_preprocessor", None)
    from_dtype = getattr(estimator, "categorical_features", None) == "from_dtype"
    order = _hist_gradient_boosting_order(estimator)
    if order is None:
        order = range(len(columns))
    if preprocessor is not None:
        for part, local in preprocessor._transformer_to_input_indices.items():
            transformer = (
                preprocessor.remainder
                if part == "remainder"
                else preprocessor.named_transformers_[part]
            )
            categories = getattr(transformer, "categories_", None)
            if categories is None:
                continue
            for j, levels in zip(local, categories):
                dtype = None
                if from_dtype:
                    known = [v for v in levels if not _is_missing(v)]
                    dtype = CategoricalDtype(known)
                _learn_levels(columns[j], levels, f"{name} categories", dtype)
    thresholds = estimator._bin_mapper.bin_thresholds_
    categorical = estimator.is_categorical_  # None without categorical features
    if categorical is None:
        categorical = np.zeros(len(columns), dtype=bool)
    for position, j in enumerate(order):
        if categorical[j] or position >= len(thresholds):
            continue
        edges = np.asarray(thresholds[position], dtype=np.float64)
        if edges.size == 0:
            columns[j].ignored = True  # constant in the training data
            columns[j].origin = f"{name}: never split"
            continue
        _learn_range(columns[j], _threshold_feature(edges, f"{name} bin thresholds"))


def _read_lightgbm(estimator, columns):
    """Category columns from ``pandas_categorical``; ranges from ``feature_infos``.

    LightGBM keeps, per ``category`` column of the training frame (in frame
    order), the dtype's categories (``booster_.pandas_categorical``), and,
    per feature, the training range of numbers or the category codes it
    kept (rare ones go to an "other" side, so these are not all the levels
    a frame holds). The levels are all the dtype's categories, and the
    rebuilt dtype is exactly that dtype, as LightGBM requires at predict.
    """
    booster = getattr(estimator, "booster_", None)
    if booster is None:
        return
    name = type(estimator).__name__
    infos = booster.dump_model(num_iteration=1).get("feature_infos", {})
    feature_names = booster.feature_name()
    categorical = [
        j for j, f in enumerate(feature_names) if infos.get(f, {}).get("values")
    ]
    pandas_categorical = booster.pandas_categorical or []
    if len(categorical) != len(pandas_categorical):
        categorical = list(booster.params.get("categorical_column", []))
    if len(categorical) == len(pandas_categorical):
        for j, categories in zip(categorical, pandas_categorical):
            _learn_levels(
                columns[j],
                categories,
                f"{name} pandas_categorical",
                CategoricalDtype(categories),
                missing_known=False,  # NaN is no category to pandas
                exact_dtype=True,
            )
    for j, f in enumerate(feature_names[: len(columns)]):
        info = infos.get(f, {})
        if j in categorical or "min_value" not in info:
            continue
        low, high = float(info["min_value"]), float(info["max_value"])
        if not (np.isfinite(low) and np.isfinite(high)) or low > high:
            continue
        values = np.linspace(low, high, _GRID) if high > low else np.array([low])
        column = columns[j]
        if column.values is None and column.levels is None:
            column.values, column.low, column.high = values, low, high
            column.loc, column.scale = float(values.mean()), float(values.std())
            column.origin = f"{name} feature_infos"


# -- reading a frame -----------------------------------------------------------------
def _read_frame(X, columns, teacher_name):
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a pandas DataFrame; got {type(X).__name__}.")
    given = [str(c) for c in X.columns]
    names = [c.name for c in columns]
    if sorted(given) != sorted(names):
        missing = [n for n in names if n not in given]
        extra = [c for c in given if c not in names]
        raise ValueError(
            f"X's columns differ from those {teacher_name} was fitted on: missing "
            f"{missing}, extra {extra}."
        )
    X = X.set_axis(given, axis=1)
    for column in columns:
        series = X[column.name]
        family = _family(series)
        if family == "mixed":
            raise ValueError(
                f"Column {column.name!r} of X mixes kinds of values (e.g. "
                f"{_describe(series.dropna().unique())}); give it one kind: text, "
                "numbers or booleans."
            )
        missing = series.isna().to_numpy()
        if column.levels is not None:
            known = pd.Series(column.known_levels, dtype=object)
            level_family = _family(known)
            if family not in ("empty", level_family) and not column.ignored:
                raise ValueError(
                    f"Column {column.name!r} of X holds {family} values (dtype "
                    f"{series.dtype}), but the teacher knows it by the {level_family} "
                    f"levels {_describe(column.known_levels)} ({column.origin})."
                )
        elif column.values is not None and family in ("text",) and not column.ignored:
            raise ValueError(
                f"Column {column.name!r} of X holds text (e.g. "
                f"{_describe(series.dropna().unique())}), but the teacher takes numbers "
                f"there ({column.origin})."
            )
        teacher_category = isinstance(column.dtype, CategoricalDtype)
        if not column.required_dtype and (
            isinstance(series.dtype, CategoricalDtype) or not teacher_category
        ):
            column.dtype = series.dtype
        if missing.any() and column.levels is None:
            column.missing = True
        elif missing.any() and not column.missing and not column._missing_known:
            # The teacher does not say whether it saw missing values here.
            column.missing = True
            column.levels = column.levels + [_missing_marker(series)]
        categorical = family in ("text", "bool") or isinstance(
            series.dtype, CategoricalDtype
        )
        if column.levels is None and categorical:
            present = series.dropna()
            if isinstance(series.dtype, CategoricalDtype):
                levels = list(series.dtype.categories)
            elif family == "bool":
                levels = [False, True]
            else:
                levels = sorted(present.unique().tolist(), key=str)
            if missing.any():
                levels.append(_missing_marker(series))
            column.levels = [
                v.item() if isinstance(v, np.generic) else v for v in levels
            ]
            column.origin = "X"
        if column.levels is not None:
            index = pd.Index(column.known_levels, dtype=object)
            codes = index.get_indexer(series.astype(object))
            counts = np.bincount(codes[codes >= 0], minlength=len(index)).astype(float)
            if column.missing:
                counts = np.append(counts, missing.sum())
            if counts.sum() > 0:
                column.frequencies = counts / counts.sum()
            continue
        if family != "empty":
            values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
            present = values[~np.isnan(values)]
            column.missing_fraction = float(missing.mean())
            if present.size:
                column.integer = column.integer or bool(
                    np.all(present == np.round(present))
                )
                column._frame_median = float(np.median(present))
                if column.values is None:
                    column.values = np.quantile(
                        present, (np.arange(_GRID) + 0.5) / _GRID
                    )
                    column.low, column.high = float(present.min()), float(present.max())
                    column.loc, column.scale = (
                        float(present.mean()),
                        float(present.std()),
                    )
                    column.origin = "X"


def _missing_marker(series):
    """The missing value a column holds (None or NaN), as the teacher saw it."""
    if series.dtype == object:
        for value in series[series.isna()].head(1):
            return None if value is None else np.nan
    return np.nan


def _settle(column):
    """Decide the kind and dtype from what was gathered."""
    dtype = column.dtype
    if column.levels is not None:
        known = column.known_levels
        if (
            not column.missing
            and known
            and all(isinstance(v, (bool, np.bool_)) for v in known)
            and not isinstance(dtype, CategoricalDtype)
        ):
            column.kind = "bool"
            column.levels = [False, True]
            column.frequencies = _realign(column.frequencies, known, column.levels)
            column.dtype = np.dtype(bool) if dtype is None else dtype
        else:
            column.kind = "category"
            if isinstance(dtype, CategoricalDtype) and not column.required_dtype:
                absent = (
                    np.asarray(
                        dtype.categories.get_indexer(pd.Index(known, dtype=object))
                    )
                    < 0
                )
                if absent.any():  # the teacher knows levels this frame lacks
                    extra = [v for v, a in zip(known, absent) if a]
                    column.dtype = CategoricalDtype(
                        list(dtype.categories) + extra, ordered=dtype.ordered
                    )
            elif (
                column.missing and isinstance(dtype, np.dtype) and (dtype.kind in "biu")
            ):
                column.dtype = np.dtype(np.float64 if dtype.kind in "iu" else object)
            if dtype is None:
                family = _family(pd.Series(known, dtype=object))
                if family == "text" or not known:
                    column.dtype = _text_dtype()
                elif (
                    family == "number"
                    and not column.missing
                    and all(float(v) == round(float(v)) for v in known)
                ):
                    column.dtype = np.dtype(np.int64)
                elif family == "number":
                    column.dtype = np.dtype(np.float64)
                else:
                    column.dtype = np.dtype(object)
        return
    column.kind = (
        "integer"
        if dtype is not None and pd.api.types.is_integer_dtype(dtype)
        else "number"
    )
    if (
        dtype is None
        or not pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
    ):
        column.dtype = np.dtype(np.float64) if dtype is None else dtype
    if column.kind == "integer":
        column.integer = True
        if column.missing and isinstance(dtype, np.dtype):
            column.dtype = np.dtype(np.float64)  # a numpy integer holds no NaN
    fill = column._imputer_fill
    if fill is None:
        fill = column._frame_median
    if fill is None:
        fill = column.loc
    if fill is None and np.isfinite(column.low) and np.isfinite(column.high):
        fill = (column.low + column.high) / 2
    column.fill_value = float(
        np.round(fill) if column.integer and fill is not None else (fill or 0.0)
    )


def _realign(frequencies, old, new):
    if frequencies is None:
        return None
    by_level = dict(zip([bool(v) for v in old], frequencies))
    return np.array([by_level.get(v, 0.0) for v in new])


def _needs_frame(column):
    """Whether the plain path (floats in a frame by name) cannot serve the column."""
    if column.ignored:
        return False
    dtype = column.dtype
    if isinstance(dtype, CategoricalDtype) or column.missing:
        return True
    if (
        column.kind == "category"
        and _family(pd.Series(column.known_levels, dtype=object)) != "number"
    ):
        return True
    return not (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    )


# -- coding ---------------------------------------------------------------------------
def _level_codes(column, series):
    """Codes of a categorical column's values: NaN for unseen ones."""
    family = _family(series)
    level_family = _family(pd.Series(column.known_levels, dtype=object))
    compatible = family in ("empty", "mixed", level_family) or (
        {family, level_family} == {"bool", "number"} and column.kind == "bool"
    )
    if not compatible:
        raise ValueError(
            f"Column {column.name!r} holds {family} values (dtype {series.dtype}), but "
            f"the teacher knows it by the {level_family} levels "
            f"{_describe(column.known_levels)}. Pass it as "
            + (
                "text (str, object or category)."
                if level_family == "text"
                else f"{level_family} values."
            )
        )
    values = (
        series.astype(object) if isinstance(series.dtype, CategoricalDtype) else series
    )
    if column.kind == "bool" and family == "number":
        values = values.map(lambda v: v if pd.isna(v) or v not in (0, 1) else bool(v))
    index = pd.Index(column.known_levels, dtype=object)
    codes = index.get_indexer(values.astype(object)).astype(np.float32)
    missing = series.isna().to_numpy()
    codes[codes < 0] = np.nan
    codes[missing] = np.nan if column.missing_code is None else column.missing_code
    return codes


def _numbers(column, series):
    """A numeric column's values as float64 (NaN where missing)."""
    if isinstance(series.dtype, CategoricalDtype):
        series = series.astype(object)
    family = _family(series)
    if family not in ("number", "bool", "empty"):
        examples = series.dropna()
        if family == "mixed":
            examples = examples[[isinstance(v, str) for v in examples]]
        raise ValueError(
            f"Column {column.name!r} holds {'text' if family in ('text', 'mixed') else family} "
            f"(e.g. {_describe(examples.unique())}, dtype {series.dtype}), but the "
            "teacher takes numbers there."
        )
    return pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)


def _constant_code(column):
    return 0.0 if column.categorical else float(column.fill_value)


def _constant_series(column, n):
    if column.categorical:
        return _level_series(column, np.zeros(n))
    return _number_series(column, np.full(n, column.fill_value))


def _level_series(column, codes):
    rounded = np.rint(codes)
    bad = ~np.isfinite(rounded) | (rounded < 0) | (rounded > column.n_levels - 1)
    if bad.any():
        raise ValueError(
            f"Column {column.name!r} has codes outside 0..{column.n_levels - 1} "
            f"(e.g. {codes[bad][:3].tolist()}): not a level the teacher knows."
        )
    idx = rounded.astype(np.intp)
    dtype = column.dtype
    if isinstance(dtype, CategoricalDtype):
        position = dtype.categories.get_indexer(
            pd.Index(column.known_levels, dtype=object)
        )
        if column.missing:
            position = np.append(position, -1)
        return pd.Series(pd.Categorical.from_codes(position[idx], dtype=dtype))
    levels = np.empty(column.n_levels, dtype=object)
    levels[:] = column.levels
    values = levels[idx]
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return pd.Series(values, dtype=object)
    return pd.Series(values).astype(dtype)


def _number_series(column, values):
    if column.integer:
        values = np.round(values)
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pd.Series(values >= 0.5).astype(dtype)
    if (
        pd.api.types.is_integer_dtype(dtype)
        and isinstance(dtype, np.dtype)
        and np.isnan(values).any()
    ):
        # Only from codes of a column without missing values, with the
        # indicator of another: never from this schema's own queries.
        dtype = np.dtype(np.float64)
    return pd.Series(values).astype(dtype)


def _onnx_input_kind(column):
    """The element type of a column's ONNX input."""
    if column.ignored:
        return "float"
    if column.kind == "bool":
        return "bool"
    if column.categorical:
        family = _family(pd.Series(column.known_levels, dtype=object))
        if family != "number":
            return "string"
        integral = all(float(v) == round(float(v)) for v in column.known_levels)
        return "int64" if integral and not column.missing else "float"
    if column.kind == "integer" and not column.missing:
        return "int64"
    return "float"


# -- the domain ------------------------------------------------------------------------
def _repeat_levels(k, weights=None):
    """Codes ``0 .. k-1`` repeated so that a uniform draw follows ``weights``.

    Weights are mixed with 10% uniform so that every level is queried.
    """
    if weights is None:
        return np.arange(k, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    p = (1 - _UNIFORM_SHARE) * weights / weights.sum() + _UNIFORM_SHARE / k
    counts = np.maximum(1, np.round(p * _GRID)).astype(int)
    return np.repeat(np.arange(k, dtype=np.float64), counts)


def _from_domain(domain, j):
    """One feature's values, bounds and scale from an InputDomain."""
    if domain.marginals is not None:
        values = domain.marginals[j]
    elif domain.rows is not None:
        values = np.quantile(domain.rows[:, j], (np.arange(_GRID) + 0.5) / _GRID)
    else:
        u = (np.arange(_GRID) + 0.5) / _GRID
        z = ndtri(u) if domain.distribution == "normal" else 2 * u - 1
        values = domain.loc[j] + domain.scale[j] * z
    return values, domain.low[j], domain.high[j], domain.scale[j]
