"""``Module``, ``Parameter`` and ``Sequential``: the PyTorch-style container API.

A module owns parameters (trainable tensors), buffers (non-trainable state such
as BatchNorm running statistics) and child modules, all registered by attribute
assignment. ``state_dict`` is a flat ``{dotted.name: ndarray}`` mapping, the
checkpoint format's payload (never pickled).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..errors import CheckpointError, ShapeError
from ..tensor import Tensor


class Parameter(Tensor):
    """A trainable tensor: ``requires_grad`` is always on."""

    __slots__ = ()

    def __init__(self, data, dtype=None):
        super().__init__(np.array(data, dtype=dtype, copy=True), requires_grad=True)


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_name", "")

    # ---- registration ------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            object.__setattr__(value, "_name", name)
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' has no attribute '{name}'")

    def register_buffer(self, name: str, value) -> None:
        self._buffers[name] = value if isinstance(value, Tensor) else Tensor(value)

    # ---- traversal -------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for path, m in self.named_modules():
            for name, p in m._parameters.items():
                yield (f"{path}.{name}" if path else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for path, m in self.named_modules():
            for name, b in m._buffers.items():
                yield (f"{path}.{name}" if path else name), b

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))

    # ---- state -------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        sd = OrderedDict((k, p.data.copy()) for k, p in self.named_parameters())
        sd.update((k, b.data.copy()) for k, b in self.named_buffers())
        return sd

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        own = dict(self.named_parameters()) | dict(self.named_buffers())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise CheckpointError(f"state dict does not match {type(self).__name__}: "
                                  f"missing {missing or 'none'}, unexpected {unexpected or 'none'}")
        for k, t in own.items():
            if k not in state:
                continue
            arr = np.asarray(state[k])
            if arr.shape != t.shape:
                raise CheckpointError(f"state dict entry '{k}' has shape {arr.shape}, "
                                      f"the model expects {t.shape}")
            t.data[...] = arr  # in place: compiled graphs bound to this tensor see the new value

    def to(self, dtype) -> "Module":
        """Convert every parameter and float buffer to ``dtype`` (e.g. float64 for gradient checks)."""
        for t in list(self.parameters()) + [b for _, b in self.named_buffers()]:
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
        return self

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ---- calling -------------------------------------------------------------------
    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args):
        try:
            return self.forward(*args)
        except ShapeError as e:
            raise _located(e, self) from None

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, m in self._modules.items():
            lines.append("  (" + name + "): " + repr(m).replace("\n", "\n  "))
        return "\n".join(lines) + "\n)"


def _located(err: ShapeError, module: Module) -> ShapeError:
    """Prefix a shape error with the layer that raised it, innermost first:
    ``in layer 'layers.0' Linear(in_features=784, out_features=128): linear: ...``."""
    path = getattr(err, "layer_path", None)
    if path is None:
        new = ShapeError(f"{type(module).__name__}({module.extra_repr()}): {err}")
        new.layer_path = [module._name] if module._name else []
        new.base_message = str(new)
        return new
    if module._name:
        path.insert(0, module._name)
    err.args = (f"in layer '{'.'.join(path)}' {err.base_message}" if path else err.base_message,)
    return err


class Sequential(Module):
    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            setattr(self, str(i), layer)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
