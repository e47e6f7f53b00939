"""Teacher adapters: one small interface over torch, skorch and sklearn models.

Every adapter answers ``predict(x)`` for a float32 tensor of queries with a
2-D float32 tensor of labels on the same device, counting the queries it has
answered. White-box adapters (torch modules, skorch nets) are also
differentiable: calling them keeps the autograd graph so query strategies can
follow input gradients.
"""

import copy

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._hummingbird import compile_tree_teacher

__all__ = ["FittedTeacherMixin", "as_teacher", "is_sklearn_network", "unwrap_fitted"]


class FittedTeacherMixin:
    """For an estimator whose ``teacher`` parameter is a fitted model, an input.

    Like :class:`~sklearn.frozen.FrozenEstimator`'s estimator: ``clone``
    keeps the teacher by reference (a deep clone would be unfitted) and
    clones every other parameter; the teacher's own parameters are hidden
    from ``get_params`` and refused by ``set_params``, so searches cannot
    change the user's fitted model.
    """

    def __sklearn_clone__(self):
        from sklearn.base import clone

        params = self.get_params(deep=False)
        cloned = {
            name: value if name == "teacher" else clone(value, safe=False)
            for name, value in params.items()
        }
        return type(self)(**cloned)

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        return {k: v for k, v in params.items() if not k.startswith("teacher__")}

    def set_params(self, **params):
        nested = sorted(name for name in params if name.startswith("teacher__"))
        if nested:
            # Setting them would change the user's fitted teacher in place
            # (a skorch teacher would even re-initialise its module).
            raise ValueError(
                f"Cannot set {nested}: the teacher is a fitted input and is never "
                "modified. Pass another fitted model as teacher=... instead."
            )
        return super().set_params(**params)


def _not_fitted(teacher):
    return NotFittedError(
        f"The teacher {type(teacher).__name__} is not fitted. Fit it first, then pass "
        "it to DataFreeDistillRegressor."
    )


class _Teacher:
    """Base adapter: counts queries and fixes the output to 2-D float32."""

    differentiable = False

    def __init__(self, estimator, n_features):
        self.estimator = estimator
        self.n_features = n_features
        self.n_queries = 0
        self.n_invalid = 0  # queries answered with NaN or inf, dropped
        self.output_1d = None
        self.domain = None  # where queries come from, named in error messages

    def _check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"Teacher queries must have shape (n, {self.n_features}); got "
                f"{tuple(x.shape)}."
            )

    def _as_2d(self, y, n):
        if y.ndim == 1:
            y = y.reshape(-1, 1)
            one_d = True
        elif y.ndim == 2:
            one_d = False
        else:
            raise ValueError(
                f"The teacher {self.name} returned an array of shape {tuple(y.shape)} "
                f"for {n} queries; a regressor must return shape (n,) or (n, n_outputs)."
            )
        if y.shape[0] != n:
            raise ValueError(
                f"The teacher {self.name} returned {y.shape[0]} predictions for {n} "
                "queries."
            )
        if self.output_1d is None:
            self.output_1d = one_d
        return y

    @property
    def name(self):
        return type(self.estimator).__name__

    def drop_invalid(self, x, y):
        """Return the queries whose labels are finite; count the others.

        A teacher may answer NaN or inf on some inputs (a log or a division
        inside a Pipeline). Those queries teach nothing and would poison the
        student's loss, so they are dropped and counted in ``n_invalid``.
        """
        finite = torch.isfinite(y).all(dim=1)
        if bool(finite.all()):
            return x, y
        self.n_invalid += int((~finite).sum())
        return x[finite], y[finite]

    def _domain_hint(self):
        """Say where the queries came from and how to move them."""
        source = ""
        if self.domain is not None:
            source = (
                f"The queries came from the input domain {self.domain.source!r} "
                "(domain_). "
            )
        return (
            f"{source}If the teacher accepts only some inputs, set the `domain` "
            "parameter to a "
            "region it accepts, DataFreeDistillRegressor(teacher, domain={'low': "
            "[...], 'high': [...]}) or domain={'loc': ..., 'scale': ..., 'low': "
            "..., 'high': ...}, or pass unlabelled rows to fit(X)."
        )

    def predict(self, x, dtype=torch.float32):
        """Return the teacher's labels for ``x`` as an (n, n_outputs) tensor.

        ``dtype=torch.float64`` keeps the precision of a teacher that
        computes in it (for a least-squares fit that must be exact).
        """
        raise NotImplementedError

    def compile(self, probe_x, reference, backend="auto"):
        """Choose how later queries are answered; return a record of the choice.

        ``reference`` holds the teacher's labels for ``probe_x``, already paid
        for, against which a faster path is verified.
        """
        raise NotImplementedError


class TorchTeacher(_Teacher):
    """White-box teacher around a torch module (a private, frozen copy)."""

    differentiable = True

    def __init__(self, module, n_features, device, original=None):
        super().__init__(original if original is not None else module, n_features)
        # A frozen copy: the user's module keeps its mode, device and grad flags.
        self.module = copy.deepcopy(module).to(device).eval().requires_grad_(False)
        params = list(self.module.parameters())
        self.dtype = params[0].dtype if params else torch.float32

    def __call__(self, x):
        """Differentiable forward pass (teacher units, 2-D)."""
        self._check_input(x)
        y = self.module(x.to(self.dtype))
        return self._as_2d(y, x.shape[0]).float()

    def predict(self, x, dtype=torch.float32, chunk_size=65536):
        self._check_input(x)
        out = []
        with torch.inference_mode():
            for start in range(0, x.shape[0], chunk_size):
                out.append(self(x[start : start + chunk_size]))
        self.n_queries += x.shape[0]
        return torch.cat(out).to(dtype).clone()

    def compile(self, probe_x, reference, backend="auto"):
        if backend == "hummingbird":
            raise ValueError(
                "teacher_backend='hummingbird' converts scikit-learn tree ensembles; "
                f"the teacher {self.name} is a torch model, which already runs on the "
                "device. Use teacher_backend='auto'."
            )
        return {
            "path": "torch",
            "reason": "a torch teacher runs on the device as it is",
            "rows_per_s": {},
            "max_abs_diff": None,
            "mismatch_fraction": None,
            "convert_seconds": None,
        }


class SklearnTeacher(_Teacher):
    """Black-box teacher: only ``predict``, called on large numpy batches."""

    def __init__(self, estimator, n_features, chunk_size=100_000, columns=None):
        super().__init__(estimator, n_features)
        self.chunk_size = chunk_size
        self.feature_names = getattr(estimator, "feature_names_in_", None)
        self.columns = columns  # a TableSchema: queries are codes of its columns
        self.compiled = None  # a faster verified query path, set by compile

    def __getstate__(self):
        # The compiled path is a cache: pickles stay small and load without
        # hummingbird installed, answering through predict again.
        return {**self.__dict__, "compiled": None}

    def compile(self, probe_x, reference, backend="auto"):
        if self.columns is not None:
            if backend == "hummingbird":
                raise ValueError(
                    "teacher_backend='hummingbird' needs a teacher that takes a "
                    "numeric array; this one takes a DataFrame with text or "
                    "category columns. Use teacher_backend='auto' or 'predict'."
                )
            return {"path": "predict", "reason": "the teacher takes a DataFrame"}
        self.compiled, record = compile_tree_teacher(
            self.estimator, probe_x, reference, self._predict_with_sklearn, backend
        )
        return record

    def _frame(self, x):
        if self.columns is not None:
            return self.columns.to_frame(x)
        if self.feature_names is None:
            return x
        import pandas as pd  # a teacher fitted on a DataFrame implies pandas

        return pd.DataFrame(x, columns=self.feature_names)

    def predict(self, x, dtype=torch.float32):
        self._check_input(x)
        if self.compiled is None:
            y = self._predict_with_sklearn(x, dtype)
        else:
            try:
                y = self.compiled(x.detach())
            except Exception as exc:
                raise RuntimeError(
                    f"The hummingbird-compiled teacher {self.name} raised "
                    f"{type(exc).__name__} on {x.shape[0]} queries. Set "
                    "teacher_backend='predict' to query it through predict."
                ) from exc
        self.n_queries += x.shape[0]
        return y.to(dtype)

    def _predict_with_sklearn(self, x, dtype=torch.float32):
        """Labels from ``estimator.predict`` in chunks; queries are not counted."""
        device = x.device
        out = []
        for start in range(0, x.shape[0], self.chunk_size):
            # float64 per chunk: memory stays bounded by chunk_size, not the round.
            batch = x[start : start + self.chunk_size].detach()
            batch = batch.to("cpu", torch.float64).numpy()
            try:
                y = self.estimator.predict(self._frame(batch))
            except Exception as exc:
                low, high = batch.min(axis=0), batch.max(axis=0)
                said = (str(exc).splitlines() or [""])[0][:200]
                raise RuntimeError(
                    f"The teacher {self.name}.predict raised {type(exc).__name__} "
                    f"({said}) on {batch.shape[0]} synthetic queries with feature "
                    f"minima {np.array2string(low, precision=3, threshold=6)} and "
                    f"maxima {np.array2string(high, precision=3, threshold=6)}. "
                    + self._domain_hint()
                ) from exc
            y = np.asarray(y)
            if not np.issubdtype(y.dtype, np.number) or np.issubdtype(
                y.dtype, np.complexfloating
            ):
                raise TypeError(
                    f"The teacher {self.name}.predict returned dtype {y.dtype}; a "
                    "regressor must return real numbers."
                )
            out.append(self._as_2d(y.astype(np.float64, copy=False), batch.shape[0]))
        return torch.from_numpy(np.concatenate(out)).to(device, dtype)


def _first_linear_in_features(module):
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            return layer.in_features
        if isinstance(layer, torch.nn.LazyLinear):
            return None
    return None


def _resolve_n_features(found, given, teacher):
    if given is not None and found is not None and given != found:
        raise ValueError(
            f"The input width {given} (from n_features or the columns of X) "
            f"disagrees with the teacher {type(teacher).__name__}, which takes "
            f"{found} features."
        )
    n = found if found is not None else given
    if n is None:
        raise ValueError(
            f"Cannot tell how many features the teacher {type(teacher).__name__} "
            "takes: it has no n_features_in_ and no leading nn.Linear. Pass "
            "n_features=... or fit(X) with unlabelled rows."
        )
    return int(n)


def as_teacher(teacher, n_features=None, device="cpu", columns=None):
    """Wrap a fitted teacher in the adapter for its kind.

    Parameters
    ----------
    teacher : torch.nn.Module, skorch.NeuralNet or fitted sklearn regressor
        The model to distill.
    n_features : int or None
        Feature count when the teacher does not reveal it.
    device : torch.device
        Where white-box teachers run.
    columns : TableSchema or None
        For a teacher fitted on a DataFrame with text or category columns:
        queries are its code space, and reach the teacher as frames.

    Returns
    -------
    adapter : TorchTeacher or SklearnTeacher
    """
    from skorch import NeuralNet

    if isinstance(teacher, NeuralNet):
        if not getattr(teacher, "initialized_", False) or not hasattr(
            teacher, "module_"
        ):
            raise _not_fitted(teacher)
        found = getattr(teacher, "n_features_in_", None) or _first_linear_in_features(
            teacher.module_
        )
        n = _resolve_n_features(found, n_features, teacher)
        return TorchTeacher(teacher.module_, n, device, original=teacher)
    if isinstance(teacher, torch.nn.Module):
        n = _resolve_n_features(_first_linear_in_features(teacher), n_features, teacher)
        return TorchTeacher(teacher, n, device)
    if not callable(getattr(teacher, "predict", None)):
        raise TypeError(
            "teacher must be a fitted scikit-learn regressor (or Pipeline), a skorch "
            f"NeuralNet or a torch.nn.Module; got {type(teacher).__name__}, which has "
            "no predict method."
        )
    try:
        check_is_fitted(teacher)
    except NotFittedError:
        raise _not_fitted(teacher) from None
    except TypeError:
        pass  # not an sklearn estimator (no fit): nothing to check
    if columns is not None:
        return SklearnTeacher(teacher, columns.n_codes, columns=columns)
    n = _resolve_n_features(
        getattr(teacher, "n_features_in_", None), n_features, teacher
    )
    return SklearnTeacher(teacher, n)


def unwrap_fitted(estimator):
    """The fitted model inside single-model wrappers.

    Sees through ``FrozenEstimator``, a search's ``best_estimator_`` and a
    ``TransformedTargetRegressor``'s ``regressor_``.
    """
    for _ in range(16):
        inner = None
        for attr in ("best_estimator_", "regressor_"):
            if inner is None:
                inner = getattr(estimator, attr, None)
        if inner is None and type(estimator).__name__ == "FrozenEstimator":
            inner = estimator.estimator
        if inner is None:
            return estimator
        estimator = inner
    return estimator


def is_sklearn_network(teacher):
    """Whether a scikit-learn teacher is a neural network (``MLPRegressor``).

    Seen through the wrappers of :func:`unwrap_fitted` and the last step of
    a Pipeline.
    """
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import Pipeline

    teacher = unwrap_fitted(teacher)
    while isinstance(teacher, Pipeline):
        teacher = unwrap_fitted(teacher.steps[-1][1])
    return isinstance(teacher, MLPRegressor)
