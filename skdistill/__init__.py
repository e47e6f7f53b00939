"""skdistill: data-free distillation of fitted regressors into small neural networks."""

from ._domain import InputDomain
from ._estimator import DataFreeDistillRegressor
from ._export import (
    DeployedStudent,
    export_onnx,
    export_torchscript,
    load_weights,
    save_weights,
)
from ._history import DistillationHistory
from ._plotting import DistillationCurveDisplay, TeacherStudentDisplay
from ._queries import (
    BoundedGapQueries,
    GaussianQueries,
    GeneratorQueries,
    LatinHypercubeQueries,
    QueryContext,
    QueryStrategy,
    UniformQueries,
)
from ._report import CompressionReport, compression_report
from ._schedule import WarmupCosineLR
from ._scoring import fidelity_score, fidelity_scorer
from ._student import MLPStudent, StandardizedModule
from ._training import StudentNet

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
    "StudentNet",
    "WarmupCosineLR",
    "fidelity_score",
    "fidelity_scorer",
    "DistillationHistory",
    "compression_report",
    "CompressionReport",
    "DistillationCurveDisplay",
    "TeacherStudentDisplay",
    "export_onnx",
    "export_torchscript",
    "save_weights",
    "load_weights",
    "DeployedStudent",
    "__version__",
]
