"""The student: a small MLP, wrapped so that it works in the teacher's units.

The distiller trains the student on standardised inputs and targets, but the
fitted ``student_`` is a skorch ``NeuralNetRegressor`` whose module
carries the standardisation as buffers, so ``student_.predict``, exported
ONNX/TorchScript graphs and saved weights all take raw inputs and return the
teacher's units.
"""

import itertools
import math

import torch
from torch import nn
from torch.torch_version import TorchVersion

__all__ = ["MLPStudent", "StandardizedModule", "StandardizedMSELoss", "n_monomials"]

_ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "logistic": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def fused_optimizer_kwargs(device):
    """``{"fused": True}`` where torch has fused Adam kernels for ``device``.

    A student step on a small MLP is dominated by per-tensor overhead; the
    fused kernel updates every parameter in one call. Fused CPU kernels exist
    from torch 2.4, CUDA ones from 1.13; elsewhere (MPS, XPU, older torch)
    the default is kept.
    """
    kind = torch.device(device).type
    if kind == "cuda" or (kind == "cpu" and TorchVersion(torch.__version__) >= "2.4"):
        return {"fused": True}
    return {}


def n_monomials(n_features, degree):
    """How many monomials of ``n_features`` inputs have degree 1 to ``degree``."""
    return math.comb(n_features + degree, degree) - 1


def _monomial_indices(n_features, degree):
    """``(n_terms, degree)`` indices into ``[x, 1]``, one row per monomial.

    Index ``n_features`` is the constant 1, so a row multiplies ``degree``
    factors into a monomial of degree 1 to ``degree`` (the constant itself
    is left out: the next layer has a bias).
    """
    rows = itertools.combinations_with_replacement(range(n_features + 1), degree)
    rows = [row for row in rows if any(i < n_features for i in row)]
    # Lower degrees first, then the order of scikit-learn's PolynomialFeatures.
    rows.sort(key=lambda row: (sum(i < n_features for i in row), row))
    return torch.tensor(rows, dtype=torch.long).reshape(-1, degree)


class MLPStudent(nn.Module):
    """Fully connected network: ``n_features -> hidden_layer_sizes -> n_outputs``.

    With ``degree > 1`` the first layer takes every monomial of the inputs
    up to that degree (the features of scikit-learn's ``PolynomialFeatures``
    without its constant column) instead of the inputs themselves. With
    ``hidden_layer_sizes=()`` as well, the network is a polynomial of its
    inputs: the student the distiller gives a teacher that is one.

    Parameters
    ----------
    n_features : int
        Input width.
    n_outputs : int, default=1
        Output width.
    hidden_layer_sizes : tuple of int, default=(50,)
        Width of each hidden layer, as in scikit-learn's ``MLPRegressor``;
        ``()`` for none (a linear map of the first layer's inputs).
    activation : {"tanh", "relu", "logistic", "gelu", "silu"}, default="tanh"
        Hidden activation.
    degree : int, default=1
        Highest degree of the monomials the first layer takes.
    """

    def __init__(
        self,
        n_features,
        n_outputs=1,
        hidden_layer_sizes=(50,),
        activation="tanh",
        degree=1,
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}."
            )
        if degree < 1:
            raise ValueError(f"degree must be at least 1, got {degree!r}.")
        self.degree = degree
        width = n_features
        if degree > 1:
            # Not saved with the weights: it follows from the arguments.
            self.register_buffer(
                "monomials", _monomial_indices(n_features, degree), persistent=False
            )
            width = self.monomials.shape[0]
        layers = []
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), _ACTIVATIONS[activation]()]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def expand(self, x):
        """The first layer's inputs: ``x``, or its monomials up to ``degree``."""
        if self.degree == 1:
            return x
        x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        terms = x[:, self.monomials[:, 0]]
        for k in range(1, self.degree):
            terms = terms * x[:, self.monomials[:, k]]
        return terms

    def forward(self, x):
        return self.layers(self.expand(x))


class StandardizedModule(nn.Module):
    """Wrap ``inner`` so that it maps raw inputs to raw outputs.

    ``forward(x) = inner((clip(x) - x_loc) / x_scale) * y_scale + y_loc``,
    where ``clip`` keeps each input within ``[x_low, x_high]`` (infinite by
    default: no clipping; finite where the teacher is provably constant
    beyond the bounds). The statistics and bounds are buffers: they move
    with ``.to(device)``, are saved in the state dict and are part of
    exported graphs.
    """

    def __init__(self, inner, x_loc, x_scale, y_loc, y_scale, x_low=None, x_high=None):
        super().__init__()
        self.inner = inner
        x_low = (
            torch.full_like(torch.as_tensor(x_loc), -torch.inf)
            if x_low is None
            else x_low
        )
        x_high = (
            torch.full_like(torch.as_tensor(x_loc), torch.inf)
            if x_high is None
            else x_high
        )
        for name, value in (
            ("x_loc", x_loc),
            ("x_scale", x_scale),
            ("y_loc", y_loc),
            ("y_scale", y_scale),
            ("x_low", x_low),
            ("x_high", x_high),
        ):
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32))

    def standardize(self, x):
        """Map raw inputs to the inner module's (standardised) inputs."""
        return (x - self.x_loc) / self.x_scale

    def standardize_targets(self, y):
        """Map targets in the teacher's units to the inner module's outputs."""
        return (y - self.y_loc) / self.y_scale

    def forward(self, x):
        x = torch.minimum(torch.maximum(x, self.x_low), self.x_high)
        return self.inner(self.standardize(x)) * self.y_scale + self.y_loc

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Weights saved before the clipping bounds existed: no bounds.
        for name, fill in (("x_low", -torch.inf), ("x_high", torch.inf)):
            if prefix + name not in state_dict and prefix + "x_loc" in state_dict:
                state_dict[prefix + name] = torch.full_like(
                    state_dict[prefix + "x_loc"], fill
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class StandardizedMSELoss(nn.Module):
    """Mean squared error in standardised target units.

    Dividing by the teacher's output scale makes the loss, and so the learning
    rate, independent of the units of the target, and weighs every output of a
    multi-output teacher alike.
    """

    def __init__(self, y_scale):
        super().__init__()
        self.register_buffer("y_scale", torch.as_tensor(y_scale, dtype=torch.float32))

    def forward(self, y_pred, y_true):
        return (((y_pred - y_true) / self.y_scale) ** 2).mean()
