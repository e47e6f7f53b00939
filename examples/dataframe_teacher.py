"""Distil a model fitted on a DataFrame with text columns, and ship it as ONNX.

Run with ``python examples/dataframe_teacher.py`` (needs onnx and onnxruntime:
``python -m pip install 'skdistill[onnx]'``).

The teacher is a ``Pipeline``: a ``ColumnTransformer`` one-hot encodes two text
columns and passes three numeric ones through to a ``HistGradientBoostingRegressor``.
``DataFreeDistillRegressor(teacher)`` reads the columns off the fitted teacher
(``columns_``: the encoder's levels, the booster's split thresholds) and queries it
with frames of its own columns. It is distilled twice: with ``fit()``, from what the
teacher reveals alone, and with ``fit(X_train)``, whose unlabelled rows also give
the columns' distributions. The student predicts on frames (unseen levels count as
no level), and its ONNX file takes one input per column.
"""

import numpy as np
import onnxruntime as ort
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skdistill import DataFreeDistillRegressor, export_onnx


def make_frame(n, seed):
    """Flats: area, rooms, floor (numbers), district and heating (text), price."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "area": rng.normal(80.0, 25.0, n).clip(20.0, None),
            "rooms": rng.integers(1, 6, n),
            "floor": rng.integers(0, 12, n),
            "district": rng.choice(["centre", "harbour", "hills", "suburb"], n),
            "heating": rng.choice(["gas", "heat pump", "district"], n),
        }
    )
    premium = frame["district"].map(
        {"centre": 1.6, "harbour": 1.3, "hills": 1.1, "suburb": 0.8}
    )
    price = (
        premium * (2.5 * frame["area"] + 12.0 * frame["rooms"])
        + 3.0 * np.sqrt(frame["floor"])
        - 15.0 * (frame["heating"] == "gas")
        + rng.normal(0.0, 5.0, n)
    )
    return frame, price.to_numpy()


X_train, y_train = make_frame(3000, seed=0)
X_test, _ = make_frame(1000, seed=1)
print(X_train.dtypes.to_string(), "\n")  # text columns are pandas' str dtype

teacher = make_pipeline(
    ColumnTransformer(
        [
            ("text", OneHotEncoder(handle_unknown="ignore"), ["district", "heating"]),
            ("numbers", "passthrough", ["area", "rooms", "floor"]),
        ]
    ),
    HistGradientBoostingRegressor(max_iter=40, random_state=0),
).fit(X_train, y_train)

settings = dict(max_queries=50_000, random_state=0)
data_free = DataFreeDistillRegressor(teacher, **settings).fit()
with_rows = DataFreeDistillRegressor(teacher, **settings).fit(X_train)
print("columns read off the teacher:", with_rows.columns_, "\n")

y_teacher = teacher.predict(X_test)
for name, distiller in [("fit()", data_free), ("fit(X_train)", with_rows)]:
    fidelity = r2_score(y_teacher, distiller.predict(X_test))
    print(f"{name:>13}: fidelity R² {fidelity:.4f} on the test frame")

# Rows the teacher never saw: an unseen district, a missing heating type.
odd = X_test.head(3).assign(district=["lakeside", "centre", "hills"])
odd["heating"] = odd["heating"].where([True, False, True])
print("\nunseen levels and missing text:", with_rows.predict(odd).round(1))

# ONNX: one input per column, the column encoding inside the graph.
path = export_onnx(with_rows, "dataframe_student.onnx")
session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
print("\nONNX inputs:", [(i.name, i.type) for i in session.get_inputs()])
feed = with_rows.columns_.onnx_inputs(X_test)  # {column: (n, 1) array}
(y_onnx,) = session.run(None, feed)
agreement = r2_score(with_rows.predict(X_test), y_onnx)
print(f"ONNX vs predict on the test frame: R² {agreement:.6f}")
assert agreement > 0.999
