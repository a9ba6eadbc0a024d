"""SGD, Adam and AdamW, following PyTorch's documented algorithms.

A parameter is any object with ``.data`` (a floating NumPy array) and ``.grad``
(an array of the same shape, or None), e.g. a ``certnn.Tensor``. ``step()``
updates ``p.data`` in place (views of it stay valid) and skips parameters whose
grad is None; all arithmetic is done in the parameter's dtype, so float32
parameters and their state stay float32.

``lr`` is a plain attribute (schedules set it); ``base_lr`` keeps the value
given at construction. ``state_dict()`` is a flat dict of numbers and arrays:
the hyperparameters, ``"kind"`` (0 SGD, 1 Adam, 2 AdamW) and per-parameter
state under keys ``"param.<i>.<name>"``; ``load_state_dict`` restores it.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import CheckpointError


class Optimizer:
    """Base class: parameter list, lr, zero_grad, state_dict. Subclasses define ``_update``."""

    KIND = -1
    HYPER: tuple[str, ...] = ()  # hyperparameter attribute names saved in state_dict
    STATE: tuple[str, ...] = ()  # per-parameter state names

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("optimizer got the same parameter more than once")
        for i, p in enumerate(self.params):
            data = getattr(p, "data", None)
            if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
                raise TypeError(f"parameter {i} must have a floating NumPy array .data, got "
                                f"{type(data).__name__}{'' if data is None else ' ' + str(getattr(data, 'dtype', ''))}")
        self.lr = self.base_lr = _check_lr(lr)
        self.state: list[dict] = [{} for _ in self.params]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_lr(value)

    def zero_grad(self) -> None:
        """Set every parameter's grad to None."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """One update of every parameter that has a gradient.

        Non-finite gradients propagate into the parameters silently (no NumPy
        warnings); detecting a NaN/inf loss is the trainer's job.
        """
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = np.asarray(p.grad)
            if g.shape != p.data.shape:
                raise ValueError(f"parameter {i}: grad shape {g.shape} != data shape {p.data.shape}")
            with np.errstate(over="ignore", invalid="ignore"):
                self._update(p.data, g.astype(p.data.dtype, copy=False), self.state[i])

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    # ---- state ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Hyperparameters and per-parameter state as a flat dict of numbers and array copies."""
        d = {"kind": self.KIND, "lr": self.lr, "base_lr": self.base_lr, "num_params": len(self.params)}
        d.update({h: getattr(self, h) for h in self.HYPER})
        for i, st in enumerate(self.state):
            for k, v in st.items():
                d[f"param.{i}.{k}"] = v.copy() if isinstance(v, np.ndarray) else v
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore what :meth:`state_dict` returned (from this kind of optimizer, same parameters)."""
        if int(d.get("kind", -1)) != self.KIND:
            raise CheckpointError(f"optimizer state is of kind {d.get('kind')!r}, "
                                  f"not {type(self).__name__} (kind {self.KIND})")
        if int(d.get("num_params", -1)) != len(self.params):
            raise CheckpointError(f"optimizer state is for {d.get('num_params')} parameters, "
                                  f"this optimizer has {len(self.params)}")
        fixed = {"kind", "lr", "base_lr", "num_params", *self.HYPER}
        missing = fixed - d.keys()
        if missing:
            raise CheckpointError(f"optimizer state lacks {sorted(missing)}")
        state: list[dict] = [{} for _ in self.params]
        for key, v in d.items():
            if key in fixed:
                continue
            parts = key.split(".")
            if (len(parts) != 3 or parts[0] != "param" or not parts[1].isdigit()
                    or int(parts[1]) >= len(self.params) or parts[2] not in self.STATE):
                raise CheckpointError(f"unexpected key {key!r} in optimizer state")
            i, name = int(parts[1]), parts[2]
            data = self.params[i].data
            if name == "step":
                v = int(v)
            else:
                v = np.array(v, dtype=data.dtype)
                if v.shape != data.shape:
                    raise CheckpointError(f"optimizer state {key!r} has shape {v.shape}, "
                                          f"parameter has {data.shape}")
            state[i][name] = v
        try:
            lr, base_lr = _check_lr(d["lr"]), _check_lr(d["base_lr"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"optimizer state: {e}") from None
        for h in self.HYPER:
            setattr(self, h, _plain(d[h]))
        self.lr, self.base_lr, self.state = lr, base_lr, state


def _plain(v):
    """A Python number from a number or a 0-d array (as np.load gives back)."""
    return np.asarray(v).item() if isinstance(v, np.ndarray | np.generic) else v


def _check_lr(lr) -> float:
    lr = float(lr)
    if not lr >= 0 or math.isinf(lr):
        raise ValueError(f"invalid learning rate {lr}: must be finite and >= 0")
    return lr


def _check_nonneg(name: str, v) -> float:
    v = float(v)
    if not v >= 0 or math.isinf(v):
        raise ValueError(f"invalid {name} {v}: must be finite and >= 0")
    return v


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (``torch.optim.SGD``).

    With ``g = grad + weight_decay * x``, momentum ``mu`` and dampening ``tau``::

        b = g                            on a parameter's first step
        b = mu * b + (1 - tau) * g       afterwards
        g = g + mu * b   (nesterov)  or  g = b   (mu != 0)
        x = x - lr * g
    """

    KIND = 0
    HYPER = ("momentum", "dampening", "weight_decay", "nesterov")
    STATE = ("momentum_buffer",)

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0):
        super().__init__(params, lr)
        self.momentum = _check_nonneg("momentum", momentum)
        self.dampening = float(dampening)
        self.weight_decay = _check_nonneg("weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")

    def _update(self, x, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * x
        if self.momentum:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= self.momentum
                b += g if self.dampening == 0 else (1 - self.dampening) * g
            if self.nesterov:
                step = b * self.momentum     # g + momentum * b, in one fresh array
                step += g
                step *= self.lr
                x -= step
                return
            g = b
        x -= self.lr * g


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``; AdamW when ``decoupled_weight_decay``).

    With step count ``t`` (per parameter, from 1)::

        x = x * (1 - lr * wd)        (AdamW)   or   g = grad + wd * x   (Adam, L2)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        x = x - (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    which is ``x - lr * m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected
    ``m_hat = m / (1 - beta1**t)``, ``v_hat = v / (1 - beta2**t)``, evaluated in
    the order PyTorch uses.
    """

    KIND = 1
    HYPER = ("beta1", "beta2", "eps", "weight_decay")
    STATE = ("step", "exp_avg", "exp_avg_sq")
    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        try:
            beta1, beta2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair of numbers, got {betas!r}") from None
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"invalid {name} {b}: must be in [0, 1)")
        self.beta1, self.beta2 = beta1, beta2
        self.eps = _check_nonneg("eps", eps)
        self.weight_decay = _check_nonneg("weight_decay", weight_decay)

    @property
    def betas(self) -> tuple[float, float]:
        return self.beta1, self.beta2

    def _update(self, x, g, state):
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(x), exp_avg_sq=np.zeros_like(x))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        if self.weight_decay:
            if self.decoupled_weight_decay:
                x *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * x
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        step_size = self.lr / (1 - self.beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - self.beta2 ** t) + self.eps
        x -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): ``x *= 1 - lr * wd``
    before the Adam step, instead of adding ``wd * x`` to the gradient."""

    KIND = 2
    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
