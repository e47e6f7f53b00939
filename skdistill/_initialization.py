"""Where the student starts: the teacher's own first layer, when it shows one.

A network teacher's first layer holds what it learned about its inputs: each
hidden unit is a direction and an offset, placed by training where the
training rows lie and where the target bends. A data-free student that starts
from random directions spends many of its steps finding such places again,
and a small student is short of steps (twice the steps lowered the fidelity
error of the paper's students on all four of its datasets). Starting from the
teacher's most important units puts the student's capacity where the
teacher's is from the first step.

``find_first_layer`` reads the first affine map of a teacher: the first
``nn.Linear`` of a torch module or skorch net, verified to take the raw
queries; the first layer of a fitted ``MLPRegressor``, also behind affine
steps of a ``Pipeline`` (scalers, PCA), verified on the probe queries.
``init_from_first_layer`` then sets the student's first layer to the
``k`` teacher units that matter most, and fits its output layer to the
teacher by least squares.

A student without hidden layers is linear in its first layer's inputs (the
inputs, or their monomials). When the teacher is a polynomial of no higher
degree, ``init_polynomial`` starts it from the teacher's own coefficients
(:func:`~skdistill._polynomial.read_polynomial`); otherwise
``init_least_squares`` starts it from its least-squares fit of the teacher.
Either start is exact for a teacher of the student's form, where gradient
steps would only come near.
"""

import inspect
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._introspection import _unwrap
from ._polynomial import polynomial_degree, read_polynomial
from ._student import MLPStudent

__all__ = [
    "StudentStart",
    "plan_start",
    "FirstLayer",
    "find_first_layer",
    "init_from_first_layer",
    "init_least_squares",
    "init_polynomial",
    "mlp_student_depth",
]

_RIDGE = 1e-4  # relative to the mean diagonal of the normal equations
_AFFINE_RTOL = 1e-4


@dataclass(frozen=True)
class FirstLayer:
    """A teacher's first affine layer, in the teacher's input units.

    Attributes
    ----------
    weight : torch.Tensor of shape (n_units, n_features)
    bias : torch.Tensor of shape (n_units,)
    origin : str
        Where it was read, for the record (``student_init_["origin"]``).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    origin: str


def _torch_first_layer(module, x):
    """The first ``nn.Linear`` of ``module``, if it is what meets the queries."""
    linear = next((m for m in module.modules() if isinstance(m, nn.Linear)), None)
    if linear is None:
        return None, "the torch teacher has no nn.Linear layer"
    seen = []

    def capture(layer, args):
        if not seen:
            seen.append(args[0].detach())

    dtype = linear.weight.dtype
    handle = linear.register_forward_pre_hook(capture)
    try:
        with torch.inference_mode():
            module(x.to(dtype))
    finally:
        handle.remove()
    if (
        not seen
        or seen[0].shape != x.shape
        or not torch.allclose(seen[0].to(x.device, torch.float32), x.to(dtype).float())
    ):
        return None, (
            "the teacher's first nn.Linear does not take the raw queries (a layer "
            "before it transforms them)"
        )
    bias = linear.bias
    if bias is None:
        bias = linear.weight.new_zeros(linear.out_features)
    name = next(n for n, m in module.named_modules() if m is linear) or "module"
    return (
        FirstLayer(
            linear.weight.detach().float().clone(),
            bias.detach().float().clone(),
            f"{type(module).__name__}.{name} (Linear {linear.in_features} -> "
            f"{linear.out_features})",
        ),
        None,
    )


def _affine_map(transform, x, scale):
    """``(A, c)`` with ``transform(x) = x @ A.T + c`` on ``x``, or None.

    Read off ``n_features + 1`` points (the first row of ``x`` and one step of
    ``scale`` along each feature) and checked on every row of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    base = x[:1]
    steps = base + np.diag(scale)
    try:
        out = np.asarray(transform(np.vstack([base, steps, x])), dtype=np.float64)
    except Exception:  # a step that refuses these points is no affine map
        return None
    if out.ndim != 2 or out.shape[0] != 1 + len(scale) + x.shape[0]:
        return None
    t0, t_steps, t_x = out[:1], out[1 : 1 + len(scale)], out[1 + len(scale) :]
    A = ((t_steps - t0) / scale[:, None]).T
    c = t0[0] - base[0] @ A.T
    if not np.all(np.isfinite(A)) or not np.all(np.isfinite(c)):
        return None
    predicted = x @ A.T + c
    tolerance = _AFFINE_RTOL * (1 + np.abs(t_x).max())
    if np.abs(predicted - t_x).max() > tolerance:
        return None
    return A, c


def _sklearn_first_layer(teacher, x, scale):
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import Pipeline

    estimator = _unwrap(teacher.estimator)
    steps = []
    if isinstance(estimator, Pipeline):
        steps, estimator = estimator[:-1], _unwrap(estimator[-1])
    if not isinstance(estimator, MLPRegressor) or not hasattr(estimator, "coefs_"):
        return None, "the teacher has no first layer to read (not a network)"
    weight = np.asarray(estimator.coefs_[0], dtype=np.float64).T
    bias = np.asarray(estimator.intercepts_[0], dtype=np.float64)
    origin = f"{type(estimator).__name__}.coefs_[0] ({weight.shape[1]} -> "
    origin += f"{weight.shape[0]})"
    if len(steps):
        affine = _affine_map(
            lambda rows: steps.transform(teacher._frame(rows)), x, scale
        )
        if affine is None or affine[0].shape[0] != weight.shape[1]:
            return None, (
                "the Pipeline steps before its MLPRegressor are not an affine map "
                "of the inputs"
            )
        A, c = affine
        weight, bias = weight @ A, weight @ c + bias
        origin += f" after {' -> '.join(type(s).__name__ for _, s in steps.steps)}"
    return (
        FirstLayer(
            torch.as_tensor(weight, dtype=torch.float32),
            torch.as_tensor(bias, dtype=torch.float32),
            origin,
        ),
        None,
    )


def find_first_layer(teacher, x, scale):
    """Read the teacher's first affine layer; return ``(FirstLayer, None)`` or ``(None, reason)``.

    Parameters
    ----------
    teacher : teacher adapter
        From :func:`~skdistill._teachers.as_teacher`.
    x : torch.Tensor of shape (n, n_features)
        Queries the teacher accepts (the probe), on which the layer is verified.
    scale : ndarray of shape (n_features,)
        Per-feature step for reading an affine map (the domain's scale; 1
        where it is 0).
    """
    module = getattr(teacher, "module", None)
    if isinstance(module, nn.Module):
        return _torch_first_layer(module, x)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return _sklearn_first_layer(teacher, x.detach().cpu().numpy(), scale)


def _ridge(features, targets, ridge):
    """Least squares with an intercept; returns (coef, intercept)."""
    A = torch.cat([features, torch.ones_like(features[:, :1])], dim=1)
    gram = A.T @ A
    eye = torch.eye(gram.shape[0], dtype=A.dtype, device=A.device)
    gram += ridge * gram.diagonal().mean() * eye
    solution = torch.linalg.solve(gram, A.T @ targets)
    return solution[:-1], solution[-1]


def init_from_first_layer(module, first_layer, x, y, units, ignored=None, min_r2=None):
    """Start ``module`` (an :class:`MLPStudent`) from the teacher's first layer.

    The teacher's units are scored by how much each carries of a ridge fit of
    the teacher on all of them (``|coefficient| * std(activation)``, with the
    student's activation), and the ``k`` best fill the student's first layer
    of ``k`` units (all of them, the rest left at random, when the teacher has
    fewer). A one-hidden-layer student's output layer is then the
    least-squares fit of the teacher on its hidden units; deeper students
    keep their random later layers.

    Parameters
    ----------
    module : MLPStudent
        The bare student module, which trains in standardised units.
    first_layer : FirstLayer
        The teacher's first layer, in input units.
    x, y : torch.Tensor
        Queries from the domain's base distribution and the teacher's labels.
    units : StandardizedModule
        The student's standardisation (input and output).
    ignored : array-like of bool, optional
        Features the student ignores: their weights start at zero.
    min_r2 : float, optional
        Leave ``module`` as it is unless the least-squares fit of the teacher
        on the chosen units reaches this R² on ``x``.

    Returns
    -------
    record : dict
        ``applied`` (whether ``module`` was changed), ``r2`` (of that fit, mean
        over outputs), ``n_units`` (student units taken from the teacher) and
        ``n_teacher_units``.
    """
    layers = [m for m in module.layers if isinstance(m, nn.Linear)]
    first, activation = layers[0], module.layers[1]
    device = first.weight.device
    with torch.no_grad():
        u = units.standardize(x).to(device, torch.float64)
        t = units.standardize_targets(y).to(device, torch.float64)
        # The teacher's layer in the student's standardised inputs:
        # W x + b = (W * scale) u + (W loc + b).
        weight = first_layer.weight.to(device, torch.float64)
        x_loc = units.x_loc.to(device, torch.float64)
        x_scale = units.x_scale.to(device, torch.float64)
        bias = first_layer.bias.to(device, torch.float64) + weight @ x_loc
        weight = weight * x_scale
        if ignored is not None and np.any(ignored):
            weight[:, torch.as_tensor(np.asarray(ignored), device=device)] = 0.0
        hidden = activation(u @ weight.T + bias)
        coef, _ = _ridge(hidden, t, _RIDGE)
        importance = coef.norm(dim=1) * hidden.std(dim=0)
        k = min(first.out_features, weight.shape[0])
        chosen = torch.topk(importance, k).indices
        new_weight = first.weight.double().clone()
        new_bias = first.bias.double().clone()
        new_weight[:k], new_bias[:k] = weight[chosen], bias[chosen]
        features = activation(u @ new_weight.T + new_bias)
        coef, intercept = _ridge(features, t, _RIDGE * 1e-2)
        mse = ((features @ coef + intercept - t) ** 2).mean(dim=0)
        var = t.var(dim=0, unbiased=False).clamp_min(1e-12)
        r2 = float((1 - mse / var).mean())
        applied = min_r2 is None or r2 >= min_r2
        if applied:
            first.weight.copy_(new_weight.to(first.weight.dtype))
            first.bias.copy_(new_bias.to(first.bias.dtype))
            if len(layers) == 2:
                layers[1].weight.copy_(coef.T.to(layers[1].weight.dtype))
                layers[1].bias.copy_(intercept.to(layers[1].bias.dtype))
    return {
        "applied": applied,
        "r2": r2,
        "n_units": int(k),
        "n_teacher_units": int(weight.shape[0]),
    }


def _like(tensor):
    return {"dtype": tensor.dtype, "device": tensor.device}


def init_least_squares(module, x, y, units, ignored=None):
    """Set a student without hidden layers to its least-squares fit of the teacher.

    Parameters
    ----------
    module : MLPStudent
        The bare student module, with no hidden layers.
    x, y : torch.Tensor
        Queries and the teacher's labels.
    units : StandardizedModule
        The student's standardisation (input and output).
    ignored : array-like of bool, optional
        Features the student ignores: every term with one of them gets a
        zero weight.

    Returns
    -------
    record : dict
        ``r2``: of the fit on ``x``, mean over outputs.
    """
    (layer,) = module.layers
    device = layer.weight.device
    with torch.no_grad():
        u = units.standardize(x.to(device, torch.float64))
        t = units.standardize_targets(y.to(device, torch.float64))
        features = module.expand(u)
        keep = torch.ones(features.shape[1], dtype=torch.bool, device=device)
        if ignored is not None and np.any(ignored):
            used = ~torch.as_tensor(np.asarray(ignored), device=device)
            keep = module.expand(used[None].double())[0] == 1  # all factors used
        # Solved on the design itself rather than its normal equations, whose
        # squared condition number would cost digits the fit needs far from
        # the domain; on the CPU, whose lstsq takes rank-deficient designs.
        design = torch.cat([features[:, keep], torch.ones_like(t[:, :1])], dim=1)
        solution = torch.linalg.lstsq(design.cpu(), t.cpu()).solution.to(device)
        coef = torch.zeros(features.shape[1], t.shape[1], **_like(t))
        coef[keep] = solution[:-1]
        mse = ((design @ solution - t) ** 2).mean(dim=0)
        var = t.var(dim=0, unbiased=False).clamp_min(1e-12)
        layer.weight.copy_(coef.T.to(layer.weight.dtype))
        layer.bias.copy_(solution[-1].to(layer.bias.dtype))
    return {"r2": float((1 - mse / var).mean())}


def init_polynomial(module, teacher, units):
    """Set a student without hidden layers to a polynomial teacher's coefficients.

    Parameters
    ----------
    module : MLPStudent
        The bare student module, with no hidden layers and a ``degree`` at
        least the teacher's.
    teacher : fitted estimator
        A teacher whose :func:`~skdistill._polynomial.polynomial_degree` is
        not None.
    units : StandardizedModule
        The student's standardisation (input and output).

    Returns
    -------
    record : dict
        ``n_terms``: the teacher's nonzero terms.
    """
    (layer,) = module.layers
    n_features = units.x_loc.shape[0]
    x_loc, x_scale, y_loc, y_scale = (
        u.detach().double().cpu().reshape(-1).numpy()
        for u in (units.x_loc, units.x_scale, units.y_loc, units.y_scale)
    )
    outputs = read_polynomial(teacher, n_features, x_loc, x_scale)
    # The exponents of the student's terms, in the order of its layer's inputs.
    if module.degree == 1:
        index = np.arange(n_features)[:, None]
    else:
        index = module.monomials.cpu().numpy()
    exponents = [
        tuple(int(np.sum(row == j)) for j in range(n_features)) for row in index
    ]
    position = {e: k for k, e in enumerate(exponents)}
    constant = (0,) * n_features
    weight = np.zeros((len(outputs), len(exponents)))
    bias = np.zeros(len(outputs))
    n_terms = 0
    for o, polynomial in enumerate(outputs):
        for e, value in polynomial.items():
            if e == constant:
                bias[o] = value
            else:
                weight[o, position[e]] = value
                n_terms += value != 0
    weight /= y_scale[:, None]
    bias = (bias - y_loc) / y_scale
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))
    return {"n_terms": int(n_terms)}


def mlp_student_depth(student, hidden_layer_sizes):
    """Hidden layers of the MLPStudent that a ``student`` parameter builds, or None.

    ``student`` is the distiller's parameter: None (the default student, with
    ``hidden_layer_sizes``) or a skorch net whose module may be any class.
    """
    if student is None:
        return len(hidden_layer_sizes)
    module = student.module
    if isinstance(module, MLPStudent):
        return sum(isinstance(m, nn.Linear) for m in module.layers) - 1
    if isinstance(module, type) and issubclass(module, MLPStudent):
        sizes = student.get_params().get("module__hidden_layer_sizes")
        if sizes is None:
            sizes = inspect.signature(module).parameters["hidden_layer_sizes"].default
        return len(tuple(sizes) if np.iterable(sizes) else (sizes,))
    return None


# student_init="auto" starts from the teacher's units when they fit it this well.
_INIT_MIN_R2 = 0.8


@dataclass
class StudentStart:
    """Where the student starts: ``record`` is ``student_init_``.

    With a ``first_layer``, the queries ``x`` and the teacher's answers ``y``
    fit the student's start on it (:meth:`apply`) and then train it too; a
    ``"least_squares"`` start fits the whole student to them, and a
    ``polynomial`` teacher's start copies its coefficients.
    ``holdout_role`` is that of :class:`~skdistill._training.HoldoutFidelity`:
    None, ``"to_beat"`` (a least-squares start) or ``"final"`` (the
    teacher's own coefficients).
    """

    record: dict
    first_layer: object = None
    x: object = None
    y: object = None
    forced: bool = False
    polynomial: object = None
    holdout_role: object = None

    def apply(self, module, units, ignored):
        """Start the bare ``module`` from the teacher's first layer, if any."""
        if self.polynomial is not None:
            self.record.update(init_polynomial(module, self.polynomial, units))
            return
        if self.record["method"] == "least_squares":
            self.record.update(
                init_least_squares(module, self.x, self.y, units, ignored)
            )
            return
        if self.first_layer is None:
            return
        record = init_from_first_layer(
            module,
            self.first_layer,
            self.x,
            self.y,
            units,
            ignored=ignored,
            min_r2=None if self.forced else _INIT_MIN_R2,
        )
        if not record.pop("applied"):
            self.record.update(
                method="random",
                reason=(
                    f"the teacher's {record['n_units']} most important first-layer "
                    f"units reproduce it with R² {record['r2']:.3f} < {_INIT_MIN_R2} "
                    "on the domain"
                ),
            )
        self.record.update(record)


def plan_start(
    student_init,
    student,
    hidden_sizes,
    teacher,
    probe,
    domain,
    n_queries,
    generator,
    device,
    continued=False,
    degree=1,
):
    """Read the teacher's first layer and label the queries to fit on it.

    Returns a :class:`StudentStart`: from the teacher's first layer when
    ``student_init`` allows it and the teacher shows one, labelling
    ``n_queries`` queries of ``domain``; a student without hidden layers
    from the coefficients of a polynomial teacher of at most its ``degree``
    (the default student's), else from its least-squares fit on such
    queries; else at random (or, ``continued``, from a carried student).
    ``student_init="teacher"`` raises when the teacher shows no first layer.
    """
    if continued:
        return StudentStart(
            {"method": "carried", "reason": "the fit continues a fitted student"}
        )
    if student_init == "random":
        return StudentStart({"method": "random", "reason": "student_init='random'"})
    depth = mlp_student_depth(student, hidden_sizes)
    first_layer = None
    teacher_degree = polynomial_degree(teacher.estimator) if depth == 0 else None
    if (
        student is None
        and teacher_degree is not None
        and teacher_degree <= degree
        and not np.any(domain.ignored)
    ):
        record = {
            "method": "teacher",
            "reason": "the teacher is a polynomial of its inputs",
            "origin": "its coefficients, read off its steps",
        }
        return StudentStart(record, polynomial=teacher.estimator, holdout_role="final")
    if depth == 0:
        x = domain.sample(n_queries, generator, device)
        # Labels in float64: an exact fit must also hold far from the domain.
        x, y = teacher.drop_invalid(x, teacher.predict(x, dtype=torch.float64))
        if x.shape[0] >= 2:
            record = {
                "method": "least_squares",
                "reason": (
                    "a student without hidden layers is linear in its inputs "
                    "(or their monomials): its least-squares fit of the teacher"
                ),
                "n_queries": int(n_queries),
            }
            return StudentStart(record, x=x, y=y, holdout_role="to_beat")
        reason = (
            f"the teacher answered {x.shape[0]} of the {n_queries} queries that "
            "would fit the start"
        )
    elif depth is None:
        reason = "the student's module is not an MLPStudent"
    elif depth > 1 and student_init == "auto":
        reason = (
            "student_init='auto' starts only one-hidden-layer students from the "
            "teacher; student_init='teacher' starts the first layer of deeper ones"
        )
    else:
        first_layer, reason = find_first_layer(teacher, probe[0], domain.scale)
    if first_layer is not None:
        x = domain.sample(n_queries, generator, device)
        x, y = teacher.drop_invalid(x, teacher.predict(x))
        if x.shape[0] < 2:
            first_layer = None
            reason = (
                f"the teacher answered {x.shape[0]} of the {n_queries} queries that "
                "would fit the start"
            )
    if first_layer is None:
        if student_init == "teacher":
            raise ValueError(
                f"student_init='teacher' cannot start the student from the "
                f"teacher {teacher.name}: {reason}. Use student_init='auto' "
                "(which then starts at random) or 'random'."
            )
        return StudentStart({"method": "random", "reason": reason})
    record = {
        "method": "teacher",
        "reason": "the teacher's first layer",
        "origin": first_layer.origin,
        "n_queries": int(n_queries),
    }
    return StudentStart(record, first_layer, x, y, forced=student_init == "teacher")
