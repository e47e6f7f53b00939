"""skdistill: data-free distillation of fitted regressors into small neural networks."""

from ._domain import InputDomain
from ._estimator import DataFreeDistillRegressor
from ._queries import (
    BoundedGapQueries,
    GaussianQueries,
    GeneratorQueries,
    LatinHypercubeQueries,
    QueryContext,
    QueryStrategy,
    UniformQueries,
)
from ._scoring import fidelity_score, fidelity_scorer
from ._student import MLPStudent, StandardizedModule

__version__ = "0.1.0"

__all__ = [
    "DataFreeDistillRegressor",
    "InputDomain",
    "QueryStrategy",
    "QueryContext",
    "BoundedGapQueries",
    "GaussianQueries",
    "UniformQueries",
    "LatinHypercubeQueries",
    "GeneratorQueries",
    "MLPStudent",
    "StandardizedModule",
    "fidelity_score",
    "fidelity_scorer",
    "__version__",
]
