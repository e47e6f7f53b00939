"""Regenerate the figures in docs/images (run from the repository root).

python docs/images/make_figures.py
"""

import matplotlib

matplotlib.use("Agg")
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor

from skdistill import (
    DataFreeDistillRegressor,
    DistillationCurveDisplay,
    TeacherStudentDisplay,
)

X, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
teacher = RandomForestRegressor(n_estimators=50, random_state=0).fit(X, y)
X_new, _ = make_friedman1(n_samples=2000, n_features=10, random_state=1)

distillers = {
    strategy: DataFreeDistillRegressor(
        teacher,
        query_strategy=strategy,
        hidden_layer_sizes=(64, 64),
        max_queries=60_000,
        random_state=0,
    ).fit()
    for strategy in ["bounded_gap", "gaussian", "lhs"]
}
display = None
for distiller in distillers.values():
    display = DistillationCurveDisplay.from_estimator(
        distiller, ax=None if display is None else display.ax_
    )
display.figure_.savefig("docs/images/distillation_curve.png", dpi=110)
scatter = TeacherStudentDisplay.from_estimator(
    distillers["bounded_gap"], X_new, random_state=0
)
scatter.figure_.savefig("docs/images/teacher_vs_student.png", dpi=110)
