"""The default student's optimizer: Adam with a lean fused step."""

import torch

__all__ = ["LeanAdam"]


class LeanAdam(torch.optim.Adam):
    """``torch.optim.Adam`` whose fused step skips torch's per-step bookkeeping.

    The default student's optimizer. A small student's step on CPU is mostly
    fixed per-call cost, and ``torch.optim.Adam(fused=True)`` spends about an
    eighth of a 50-unit student's step (0.317 against 0.274 ms in
    ``benchmarks/results/step_cost.md``) on Python work that does not change
    from step to step: collecting every parameter's state and flags,
    grouping the tensors by device and dtype, and a profiler range in
    ``zero_grad``. Once every parameter of a group has its state, ``step``
    hands the group straight to the same fused kernel
    (``torch._fused_adam_``) with the same arguments, so the weights are
    identical, bit for bit, to those of ``torch.optim.Adam(..., fused=True)``;
    ``zero_grad()`` sets the gradients to None, as torch's does by default.
    (``step`` keeps torch's profiler range and step hooks.)

    Everything else is ``torch.optim.Adam``'s own step: the first step
    (which creates the state), ``fused=False`` (torch without fused kernels
    for the device), ``amsgrad``, ``capturable``, ``differentiable``,
    ``decoupled_weight_decay``, a tensor ``lr`` or ``betas``, a gradient
    scaler's ``grad_scale`` or ``found_inf``, sparse gradients, complex
    parameters, and a group whose parameters do not share one device and
    dtype. It takes ``torch.optim.Adam``'s parameters, and step hooks,
    learning-rate schedulers and ``state_dict`` work as for it.

    See Also
    --------
    StudentNet : The default student net, which steps this optimizer.
    """

    def step(self, closure=None):
        """Perform one optimization step; ``closure`` re-evaluates the loss."""
        if not self._lean_possible():
            return self._adam_step(closure)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        groups = self._lean_groups()  # of the parameters the closure gave gradients
        if groups is None:
            return self._adam_step(None if closure is None else lambda: loss)
        with torch.no_grad():
            for group, params, states in groups:
                steps = [state["step"] for state in states]
                beta1, beta2 = group["betas"]
                torch._foreach_add_(steps, 1)
                torch._fused_adam_(
                    params,
                    [p.grad for p in params],
                    [state["exp_avg"] for state in states],
                    [state["exp_avg_sq"] for state in states],
                    [],
                    steps,
                    amsgrad=False,
                    lr=group["lr"],
                    beta1=beta1,
                    beta2=beta2,
                    weight_decay=group["weight_decay"],
                    eps=group["eps"],
                    maximize=group["maximize"],
                    grad_scale=None,
                    found_inf=None,
                )
        return loss

    def zero_grad(self, set_to_none=True):
        """Reset the gradients: set them to None, or zero them in place."""
        if not set_to_none:
            return super().zero_grad(set_to_none=False)
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def _lean_possible(self):
        """Whether no flag of any group, nor a gradient scaler, needs torch's step."""
        return (
            getattr(self, "grad_scale", None) is None
            and getattr(self, "found_inf", None) is None
            and all(_lean_flags(group) for group in self.param_groups)
        )

    def _lean_groups(self):
        """``[(group, parameters with a gradient, their states), ...]``, or None.

        None when a group needs torch's own step.
        """
        groups = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            states = [self.state[p] for p in params]
            if params and not _lean_tensors(params, states):
                return None
            groups.append((group, params, states))
        return groups

    def _adam_step(self, closure):
        """``torch.optim.Adam.step``, without running the step hooks twice.

        torch wraps an optimizer class's ``step`` in its hook runner when the
        first instance is made (``Optimizer._patch_step_function``); this
        ``step`` is wrapped already, so the hooks have run.
        """
        step = torch.optim.Adam.step
        if getattr(step, "hooked", False):
            step = step.__wrapped__
        return step(self, closure)


def _lean_flags(group):
    return (
        group["fused"]
        and not group["amsgrad"]
        and not group["capturable"]
        and not group["differentiable"]
        and not group.get("decoupled_weight_decay", False)
        and not torch.is_tensor(group["lr"])
        and not any(torch.is_tensor(beta) for beta in group["betas"])
    )


def _lean_tensors(params, states):
    """Every parameter dense, real, stateful and on the first one's device and dtype."""
    device, dtype = params[0].device, params[0].dtype
    for p, state in zip(params, states):
        if (
            p.device != device
            or p.dtype != dtype
            or p.is_complex()
            or p.grad.is_sparse
            or not state
        ):
            return False
    return True
