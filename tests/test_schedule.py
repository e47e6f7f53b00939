import io
import math

import pytest
import torch
from torch import nn

from skdistill import WarmupCosineLR


def _optimizer():
    return torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1)


def _stepped(optimizer, scheduler, n_rounds):
    """The learning rate of each round, as skorch's LRScheduler steps it."""
    lrs = []
    for _ in range(n_rounds):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def _lrs(n_rounds, **kwargs):
    optimizer = _optimizer()
    scheduler = WarmupCosineLR(optimizer, **kwargs)
    return _stepped(optimizer, scheduler, n_rounds), scheduler


def test_without_warmup_it_is_torchs_cosine_annealing():
    ours, _ = _lrs(40, T_max=40, eta_min=1e-3)
    optimizer = _optimizer()
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=40, eta_min=1e-3
    )
    assert ours == pytest.approx(_stepped(optimizer, cosine, 40), rel=1e-12)


def test_warmup_rises_linearly_to_the_cosine_then_follows_it():
    lrs, _ = _lrs(50, T_max=50, warmup=4, eta_min=1e-3)

    def cosine(t):
        return 1e-3 + (0.1 - 1e-3) * (1 + math.cos(math.pi * t / 50)) / 2

    assert lrs[:4] == pytest.approx([(t + 1) / 4 * cosine(t) for t in range(4)])
    assert lrs[0] == pytest.approx(0.1 / 4, rel=1e-12)
    assert lrs[4:] == pytest.approx([cosine(t) for t in range(4, 50)])
    peak = lrs.index(max(lrs))
    assert peak == 3
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1 : peak + 1]))
    assert all(a > b for a, b in zip(lrs[peak:-1], lrs[peak + 1 :]))
    assert lrs[-1] > 1e-3


def test_a_restored_schedule_goes_on_where_it_stopped():
    # Checkpoints save the state dict with torch.save and read it back with
    # weights_only=True.
    _, scheduler = _lrs(7, T_max=30, warmup=5, eta_min=0.0)
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    further, _ = _lrs(12, T_max=30, warmup=5, eta_min=0.0)

    fresh = _optimizer()
    restored = WarmupCosineLR(fresh, T_max=30, warmup=5)
    restored.load_state_dict(state)
    fresh.param_groups[0]["lr"] = restored.get_last_lr()[0]
    assert _stepped(fresh, restored, 5) == pytest.approx(further[7:])


@pytest.mark.parametrize(
    "kwargs, message",
    [({"T_max": 0}, "T_max must be at least 1"), ({"T_max": 5, "warmup": 0}, "warmup")],
)
def test_invalid_lengths_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WarmupCosineLR(_optimizer(), **kwargs)
