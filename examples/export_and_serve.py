"""Ship a distilled student: report, ONNX, TorchScript, safe weights, and reload.

Run with ``python examples/export_and_serve.py`` (about 10 s on one CPU core; ONNX
needs ``python -m pip install -c constraints.txt -e ".[onnx]"``).

It fits a random forest (the teacher), distills it without its data, prints the
compression report, writes the student in three formats into a temporary folder,
loads each back the way a serving process would (onnxruntime, ``torch.jit.load``,
``skdistill.load_weights``) and checks that all of them predict like
``distiller.predict`` on raw inputs in the teacher's units.
"""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor

from skdistill import (
    DataFreeDistillRegressor,
    compression_report,
    export_onnx,
    export_torchscript,
    load_weights,
    save_weights,
)


def main():
    X, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    teacher = RandomForestRegressor(n_estimators=50, random_state=0).fit(X, y)
    X_new, _ = make_friedman1(n_samples=2000, n_features=10, random_state=1)

    # No data from here on: the domain comes from the forest's split thresholds.
    distiller = DataFreeDistillRegressor(
        teacher, hidden_layer_sizes=(64, 64), max_queries=60_000, random_state=0
    ).fit()
    print(compression_report(distiller, X_new))
    expected = distiller.predict(X_new)

    folder = Path(tempfile.mkdtemp(prefix="skdistill-"))

    # ONNX: raw float32 rows in, predictions in the teacher's units out; the
    # student's standardisation is inside the graph.
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime is not installed: skipping the ONNX export")
    else:
        onnx_path = export_onnx(distiller, folder / "student.onnx")
        session = ort.InferenceSession(str(onnx_path))
        (y_onnx,) = session.run(None, {"X": X_new.astype(np.float32)})
        report_match("ONNX", onnx_path, y_onnx, expected)

    # TorchScript: loads with torch alone (torch.jit is deprecated in recent
    # PyTorch releases, which warn about it).
    ts_path = export_torchscript(distiller, folder / "student.ts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(ts_path))
    with torch.no_grad():
        y_ts = module(torch.as_tensor(X_new, dtype=torch.float32)).numpy()
    report_match("TorchScript", ts_path, y_ts, expected)

    # Weights: tensors and plain values only, read back with
    # torch.load(weights_only=True): safe even from a source you do not trust.
    weights_path = save_weights(distiller, folder / "student.pt")
    student = load_weights(weights_path)
    report_match("weights", weights_path, student.predict(X_new), expected)


def report_match(kind, path, got, expected):
    max_diff = float(np.max(np.abs(got - expected)))
    print(
        f"{kind:<12} {path.stat().st_size / 1e3:6.1f} kB  "
        f"max |difference from predict| = {max_diff:.2g}"
    )
    assert max_diff <= 1e-4 * np.max(np.abs(expected)), kind


if __name__ == "__main__":
    main()
