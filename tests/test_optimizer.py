import pytest
import torch
from torch import nn

from skdistill import LeanAdam
from skdistill._student import fused_optimizer_kwargs

FUSED = fused_optimizer_kwargs("cpu")
needs_fused = pytest.mark.skipif(not FUSED, reason="torch has no fused CPU Adam")


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2))


def _train(optimizer_class, n_steps=30, groups=None, schedule=True, **kwargs):
    """Weights and losses after ``n_steps`` closure steps on a fixed problem."""
    net = _net()
    params = groups(net) if groups is not None else net.parameters()
    optimizer = optimizer_class(params, **{"lr": 1e-2, **kwargs})
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.5)
    generator = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(n_steps):
        x = torch.randn(64, 5, generator=generator)
        y = torch.randn(64, 2, generator=generator)

        def closure(x=x, y=y):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(net(x), y)
            loss.backward()
            return loss

        losses.append(float(optimizer.step(closure).detach()))
        if schedule:
            scheduler.step()
    return [p.detach().clone() for p in net.parameters()], losses, optimizer


def _frozen_bias_and_two_groups(net):
    net[2].bias.requires_grad_(False)  # never gets a gradient: not stepped
    return [
        {"params": [net[0].weight, net[0].bias], "weight_decay": 1e-3},
        {"params": [net[2].weight, net[2].bias], "lr": 3e-2},
    ]


@needs_fused
@pytest.mark.parametrize(
    "kwargs, groups",
    [
        pytest.param({}, None, id="defaults"),
        pytest.param(
            {"weight_decay": 1e-4, "betas": (0.8, 0.99), "eps": 1e-6},
            None,
            id="weight decay, betas, eps",
        ),
        pytest.param({"maximize": True}, None, id="maximize"),
        pytest.param({}, _frozen_bias_and_two_groups, id="two groups, frozen bias"),
    ],
)
def test_weights_are_torch_fused_adams_bit_for_bit(kwargs, groups):
    # The lean step is torch's fused Adam step with the bookkeeping skipped:
    # nothing in the arithmetic may differ, whatever the learning rate does.
    lean, lean_losses, _ = _train(LeanAdam, groups=groups, fused=True, **kwargs)
    adam, adam_losses, _ = _train(torch.optim.Adam, groups=groups, fused=True, **kwargs)
    assert lean_losses == adam_losses
    for a, b in zip(lean, adam):
        assert torch.equal(a, b)


@needs_fused
def test_the_lean_step_skips_torchs_step_once_the_state_exists(monkeypatch):
    calls = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    _train(LeanAdam, n_steps=5, fused=True)
    assert len(calls) == 1  # the first step, which makes the state


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"amsgrad": True, **FUSED}, id="amsgrad"),
        pytest.param({"foreach": False}, id="not fused"),
        pytest.param({"decoupled_weight_decay": True, **FUSED}, id="decoupled decay"),
        pytest.param({"lr": torch.tensor(1e-2), **FUSED}, id="tensor lr"),
    ],
)
def test_other_settings_get_torchs_own_step(kwargs):
    try:
        torch.optim.Adam([nn.Parameter(torch.zeros(1))], **kwargs)
    except (TypeError, RuntimeError):
        pytest.skip(f"this torch's Adam does not take {sorted(kwargs)}")
    lean, _, _ = _train(LeanAdam, schedule=False, **kwargs)
    adam, _, _ = _train(torch.optim.Adam, schedule=False, **kwargs)
    for a, b in zip(lean, adam):
        assert torch.equal(a, b)


def test_step_hooks_run_once_per_step():
    torch.optim.Adam([nn.Parameter(torch.zeros(1))])  # torch hooks Adam.step too
    net = _net()
    optimizer = LeanAdam(net.parameters(), lr=1e-2, **FUSED)
    seen = []
    optimizer.register_step_pre_hook(lambda *_: seen.append("pre"))
    optimizer.register_step_post_hook(lambda *_: seen.append("post"))
    for _ in range(3):
        optimizer.zero_grad()
        net(torch.randn(4, 5)).sum().backward()
        optimizer.step()
    assert seen == ["pre", "post"] * 3


def test_zero_grad_sets_gradients_to_none_or_zero():
    net = _net()
    optimizer = LeanAdam(net.parameters(), lr=1e-2, **FUSED)
    net(torch.randn(4, 5)).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in net.parameters())
    optimizer.zero_grad()
    assert all(p.grad is None for p in net.parameters())


@needs_fused
def test_state_dict_moves_between_lean_and_torch_adam():
    _, _, lean = _train(LeanAdam, n_steps=5, fused=True)
    resumed = torch.optim.Adam(_net().parameters(), lr=1e-2, fused=True)
    resumed.load_state_dict(lean.state_dict())
    assert resumed.state_dict()["state"][0]["step"] == 5
    back = LeanAdam(_net().parameters(), lr=1e-2, fused=True)
    back.load_state_dict(resumed.state_dict())
    torch.testing.assert_close(
        back.state_dict()["state"][0]["exp_avg"],
        lean.state_dict()["state"][0]["exp_avg"],
    )
