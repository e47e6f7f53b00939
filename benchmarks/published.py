"""The published methods as the paper describes them: plain PyTorch, step by step.

A reference implementation of the three data-free methods of Zhou & Chiam
(2023) at their published settings (``../shared/datasets/README.md``), written
independently of ``skdistill`` so that the package's results and wall times
are compared with the method itself, not with the package's own (batched)
version of it:

* ``gaussian``: every student step labels 100 fresh ``N(0, I)`` queries;
* ``generator`` (Kang & Kang 2021): a ``50 -> 500 tanh -> d`` generator takes
  one RMSprop step per epoch on ``mean(-(T - S)**2 + beta ||x||**2 +
  gamma S**2)``; every student step labels 50 generated queries;
* ``bounded_gap``: for *every* student step, 50 queries start at ``N(0, I)``
  and take 2 RMSprop steps (lr 0.1, weight decay ``beta``) on
  ``mean(-(T - S)**2 + gamma S**2)``; the student's loss is
  ``alpha * mse(xg) + (1 - alpha) * mse(xp)`` with 50 more ``N(0, I)``
  queries ``xp`` and ``alpha`` falling linearly from 1 to 0 over the epochs.

The student (one tanh hidden layer) trains with RMSprop (lr 1e-3, weight decay
1e-5) for 2000 epochs of 10 steps. After every epoch it is scored two ways,
and the best epoch of each is kept:

* ``labelled-val``: MSE against the true labels of the real validation rows,
  the paper's choice (*not* data-free);
* ``synthetic``: MSE against the teacher on 2048 fixed ``N(0, I)`` hold-out
  queries, the same data-free criterion as ``skdistill``'s.
"""

import copy
import time

import numpy as np
import torch
from protocol import mlp
from torch import nn

EPOCHS, STEPS = 2000, 10
BETA = GAMMA = 1e-5
N_HOLDOUT = 2048
METHODS = ("gaussian", "generator", "bounded_gap")


class _Best:
    """Keep the state of the epoch with the lowest score."""

    def __init__(self):
        self.score, self.state = np.inf, None

    def offer(self, score, module):
        if score < self.score:
            self.score, self.state = score, copy.deepcopy(module.state_dict())


def distill(
    method,
    teacher,
    hidden,
    X_val,
    y_val,
    seed,
    epochs=EPOCHS,
    steps=STEPS,
    on_epoch=None,
):
    """Distill ``teacher`` (a frozen torch module) with a published method.

    Returns ``(students, info)``: ``students`` maps ``"synthetic"`` and
    ``"labelled-val"`` to the module of the epoch each selection keeps;
    ``info`` has ``seconds`` (wall time of the whole distillation, model
    selection included) and ``queries`` (labelled teacher queries, hold-out
    included; as in ``skdistill``'s ``n_teacher_queries_``, the evaluations
    with gradients that move queries, 2 per optimised query for bounded gap
    and 50 per generator step, are not counted).

    ``on_epoch(epoch, selected, queries, seconds)``, if given, is called after
    every epoch's model selection (a learning curve): ``selected`` maps each
    selection to the state dict it keeps so far. Its own time is not counted
    in ``seconds``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    d = X_val.shape[1]
    student = mlp(d, hidden)
    opt = torch.optim.RMSprop(student.parameters(), lr=1e-3, weight_decay=1e-5)
    X_val_t = torch.as_tensor(X_val)
    y_val_t = torch.as_tensor(y_val, dtype=torch.float32).reshape(-1, 1)
    with torch.no_grad():
        x_hold = torch.randn(N_HOLDOUT, d, generator=gen)
        y_hold = teacher(x_hold)
    queries = N_HOLDOUT
    if method == "generator":
        generator = nn.Sequential(nn.Linear(50, 500), nn.Tanh(), nn.Linear(500, d))
        gen_opt = torch.optim.RMSprop(generator.parameters(), lr=1e-3)
    best = {"synthetic": _Best(), "labelled-val": _Best()}

    for epoch in range(epochs):
        alpha = 1.0 - epoch / epochs
        if method == "generator":
            x = generator(torch.randn(50, 50, generator=gen))
            s = student(x)
            loss = (
                -((teacher(x) - s) ** 2).mean()
                + BETA * (x**2).sum(dim=1).mean()
                + GAMMA * (s**2).mean()
            )
            gen_opt.zero_grad()
            grads = torch.autograd.grad(loss, list(generator.parameters()))
            for p, g in zip(generator.parameters(), grads):
                p.grad = g
            gen_opt.step()
        for _ in range(steps):
            if method == "gaussian":
                x = torch.randn(100, d, generator=gen)
                with torch.no_grad():
                    t = teacher(x)
                loss = ((student(x) - t) ** 2).mean()
                queries += 100
            elif method == "generator":
                with torch.no_grad():
                    x = generator(torch.randn(50, 50, generator=gen))
                    t = teacher(x)
                loss = ((student(x) - t) ** 2).mean()
                queries += 50
            else:
                xg = torch.randn(50, d, generator=gen).requires_grad_(True)
                x_opt = torch.optim.RMSprop([xg], lr=0.1, weight_decay=BETA)
                for _ in range(2):
                    s = student(xg)
                    gap_loss = (-((teacher(xg) - s) ** 2) + GAMMA * s**2).mean()
                    (xg.grad,) = torch.autograd.grad(gap_loss, xg)
                    x_opt.step()
                xg = xg.detach()
                xp = torch.randn(50, d, generator=gen)
                with torch.no_grad():
                    tg, tp = teacher(xg), teacher(xp)
                loss = (
                    alpha * ((student(xg) - tg) ** 2).mean()
                    + (1 - alpha) * ((student(xp) - tp) ** 2).mean()
                )
                queries += 100
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            best["synthetic"].offer(
                float(((student(x_hold) - y_hold) ** 2).mean()), student
            )
            best["labelled-val"].offer(
                float(((student(X_val_t) - y_val_t) ** 2).mean()), student
            )
            if on_epoch is not None:
                paused = time.perf_counter()
                selected = {name: kept.state for name, kept in best.items()}
                on_epoch(epoch, selected, queries, paused - start)
                start += time.perf_counter() - paused
    seconds = time.perf_counter() - start
    students = {}
    for selection, kept in best.items():
        module = mlp(d, hidden)
        module.load_state_dict(kept.state)
        students[selection] = module.eval().requires_grad_(False)
    return students, {"seconds": seconds, "queries": queries}
