"""The default student's learning-rate schedule: a linear warm-up, then a cosine."""

import math

from torch.optim.lr_scheduler import LRScheduler

__all__ = ["WarmupCosineLR"]


class WarmupCosineLR(LRScheduler):
    """A linear warm-up over the first rounds, then a cosine decay to a floor.

    The default student's schedule, stepped once per round (a skorch epoch)
    by skorch's ``LRScheduler`` callback. Round ``t`` (from 0) trains at::

        min(1, (t + 1) / warmup) * (eta_min + (lr - eta_min) * (1 + cos(pi * t / T_max)) / 2)

    so the first round takes ``1 / warmup`` of the learning rate and round
    ``warmup`` the whole of it, as annealed by the cosine; ``warmup=1`` is
    torch's ``CosineAnnealingLR`` (in closed form). Adam moves every weight
    by about the learning rate from its very first step, before its running
    averages of the gradients mean much, and a student that starts from
    random weights is furthest from the teacher then; the warm-up keeps those
    first moves short.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The student's optimizer.
    T_max : int
        Rounds of the cosine, from the learning rate to ``eta_min``.
    warmup : int, default=1
        Rounds over which the learning rate rises linearly to its full value;
        1 for none.
    eta_min : float, default=0.0
        The floor the cosine ends at.
    last_epoch : int, default=-1
        The last round done; -1 starts the schedule.
    """

    def __init__(self, optimizer, T_max, warmup=1, eta_min=0.0, last_epoch=-1):
        if T_max < 1:
            raise ValueError(f"T_max must be at least 1, got {T_max}.")
        if warmup < 1:
            raise ValueError(f"warmup must be at least 1 round, got {warmup}.")
        self.T_max = T_max
        self.warmup = warmup
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The learning rate of each parameter group at round ``last_epoch``."""
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self):
        t = self.last_epoch
        ramp = min(1.0, (t + 1) / self.warmup)
        cosine = (1 + math.cos(math.pi * t / self.T_max)) / 2
        return [
            ramp * (self.eta_min + (base_lr - self.eta_min) * cosine)
            for base_lr in self.base_lrs
        ]
