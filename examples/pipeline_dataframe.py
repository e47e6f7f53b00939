"""Distill a Pipeline fitted on a pandas DataFrame, and predict on DataFrames.

Run with ``python examples/pipeline_dataframe.py`` (about 10 s on one CPU core).

The teacher is a ``Pipeline`` whose first step, a ``ColumnTransformer``, standardises
two numeric columns, scales a count to [0, 1] and one-hot encodes an integer-coded
category. Those fitted transformers remember the data's means and scales, ranges and
categories, so ``DataFreeDistillRegressor(teacher).fit()`` needs no rows: it infers the
domain per column (a normal, a uniform range, the categories), keeps the category one
of its codes in every query, and hands the teacher DataFrames with its own column
names. (Text categories work too: see ``examples/dataframe_teacher.py``.)
The fitted distiller takes DataFrames with the teacher's columns (and checks them).
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from skdistill import DataFreeDistillRegressor


def make_frame(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "area": rng.normal(90.0, 30.0, n).clip(15.0, None),  # m²
            "age": rng.normal(35.0, 15.0, n).clip(0.0, None),  # years
            "rooms": rng.integers(1, 7, n).astype(float),  # a count
            "district": rng.integers(0, 5, n).astype(float),  # a category, coded 0..4
        }
    )
    district_effect = np.array([0.0, 40.0, -20.0, 15.0, 70.0])
    price = (
        3.0 * frame["area"]
        - 0.8 * frame["age"]
        + 12.0 * frame["rooms"]
        + district_effect[frame["district"].astype(int)]
        + rng.normal(0.0, 10.0, n)
    )
    return frame, price


def main():
    frame, price = make_frame(3000, seed=0)
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), ["area", "age"]),
            ("count", MinMaxScaler(), ["rooms"]),
            ("category", OneHotEncoder(), ["district"]),
        ]
    )
    teacher = make_pipeline(
        preprocess,
        MLPRegressor(hidden_layer_sizes=(32,), max_iter=2000, random_state=0),
    ).fit(frame, price)
    del frame, price  # no data from here on

    distiller = DataFreeDistillRegressor(
        teacher, max_queries=60_000, random_state=0
    ).fit()
    print(f"domain: {distiller.domain_.source}")
    print(f"columns: {list(distiller.feature_names_in_)}")
    names = distiller.feature_names_in_
    categories = {names[j]: v.tolist() for j, v in distiller.domain_.categories.items()}
    print(f"categorical columns: {categories}")

    new, new_price = make_frame(5000, seed=1)
    teacher_pred = teacher.predict(new)
    student_pred = distiller.predict(new)  # a DataFrame in, numpy out
    print(
        f"fidelity R2 (student vs teacher)  {r2_score(teacher_pred, student_pred):.4f}"
    )
    print(
        f"R2 vs truth  teacher {r2_score(new_price, teacher_pred):.4f}"
        f"   student {r2_score(new_price, student_pred):.4f}"
    )
    print(new.head(3).assign(teacher=teacher_pred[:3], student=student_pred[:3]))

    # Columns are checked by name, as scikit-learn does: a reordered frame is refused.
    try:
        distiller.predict(new[["age", "area", "rooms", "district"]])
    except ValueError as error:
        print(f"reordered columns refused: {str(error).splitlines()[0]}")


if __name__ == "__main__":
    main()
