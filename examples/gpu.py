"""Distill on a GPU when there is one, else on the CPU: ``device="auto"``.

Run with ``python examples/gpu.py`` (about 10 s on one CPU core). It prints which
device it used; on a machine without CUDA (CI) it runs on the CPU unchanged.

``device="auto"`` (the default) trains the student and makes the queries on CUDA
when ``torch.cuda.is_available()``, else on the CPU; ``device_`` records the choice.
``device="cuda"`` (or ``"cuda:1"``) insists, and raises where CUDA is missing.
A torch or skorch teacher (a white box) is copied onto the same device, so queries,
teacher answers and input gradients never leave it. A scikit-learn teacher answers
on the CPU through ``predict``; for tree ensembles, ``teacher_backend="auto"`` with
the ``trees`` extra also tries a torch conversion on the GPU and keeps whichever is
measured faster (``teacher_backend_`` says which). Predictions are numpy in, numpy
out, wherever the student trained.
"""

import time

import numpy as np
import torch
from sklearn.datasets import make_friedman1
from sklearn.metrics import r2_score
from skorch import NeuralNetRegressor
from torch import nn

from skdistill import DataFreeDistillRegressor


class Teacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(10, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, 1),
        )

    def forward(self, x):
        return self.net(x)


def main():
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}; CUDA available: {cuda}")
    if cuda:
        print(f"GPU: {torch.cuda.get_device_name()}")

    # A skorch teacher, trained wherever the hardware allows. On a shared CPU one
    # torch thread is the safe choice (benchmarks/results/threads.md); the distiller
    # makes the same choice by itself (n_threads="auto").
    if not cuda:
        torch.set_num_threads(1)
    torch.manual_seed(0)
    X, y = make_friedman1(n_samples=4000, n_features=10, noise=0.5, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.float32).reshape(-1, 1)
    teacher = NeuralNetRegressor(
        Teacher,
        max_epochs=30,
        lr=1e-3,
        optimizer=torch.optim.Adam,
        batch_size=128,
        train_split=None,
        device="cuda" if cuda else "cpu",
        verbose=0,
    ).fit(X, y)

    start = time.perf_counter()
    distiller = DataFreeDistillRegressor(
        teacher,
        domain={"low": np.zeros(10), "high": np.ones(10)},  # Friedman #1's inputs
        max_queries=80_000,
        device="auto",  # the default: CUDA when available, else CPU
        random_state=0,
    ).fit()
    seconds = time.perf_counter() - start
    print(f"distilled on {distiller.device_} in {seconds:.1f} s")
    print(f"teacher answered through: {distiller.teacher_backend_['path']}")

    X_new, _ = make_friedman1(n_samples=10_000, n_features=10, random_state=1)
    X_new = X_new.astype(np.float32)
    teacher_pred = teacher.predict(X_new).ravel()
    student_pred = distiller.predict(X_new)  # numpy in, numpy out
    print(
        f"fidelity R2 (student vs teacher): {r2_score(teacher_pred, student_pred):.4f}"
    )
    device = next(distiller.student_.module_.parameters()).device
    print(f"student parameters live on: {device}")


if __name__ == "__main__":
    main()
