"""PyTorch interop (the optional ``certnn[torch]`` extra).

* :func:`from_torch` (module ``torch_import``): an eval-mode ``torch.nn.Module``
  -> certnn graph, by ``torch.fx`` symbolic tracing.
* :func:`to_torch` (module ``torch_export``): certnn graph -> ``torch.fx.GraphModule``
  computing it with torch ops, parameters named by the graph's param ids.
* :func:`state_dict_from_torch` / :func:`state_dict_to_torch`: weights between a
  certnn ``nn`` model and the equivalent torch model.

Importing this module imports torch; nothing in certnn imports it, so certnn
works without torch installed.

State-dict layouts: certnn's layers store their weights exactly as torch's
(``Linear.weight`` is (out, in), ``Conv2d.weight`` is (out, in/groups, kH, kW),
``BatchNorm2d`` has ``weight``, ``bias``, ``running_mean``, ``running_var``,
``LayerNorm`` has ``weight`` and ``bias`` of the normalized shape) and
``Sequential``/attribute names give the same dotted keys, so no array is
transposed. The one difference: torch's BatchNorm also keeps
``num_batches_tracked`` (a step counter used only when ``momentum=None``),
which certnn has not; it is dropped on the way in and recreated as 0 on the
way out.
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import InteropError
from .torch_export import TORCH_OPS, to_torch  # noqa: F401
from .torch_import import UnsupportedTorchOp, from_torch  # noqa: F401

_COUNTER = "num_batches_tracked"


def state_dict_from_torch(torch_state_dict) -> dict[str, np.ndarray]:
    """A torch state dict (tensors) as ``{key: ndarray}`` for certnn's
    ``Module.load_state_dict``: arrays are copies (CPU, same dtype; bfloat16 and
    float16 widen exactly to float32), BatchNorm's ``num_batches_tracked`` dropped."""
    out = {}
    for k, v in torch_state_dict.items():
        if k == _COUNTER or k.endswith("." + _COUNTER):
            continue
        if not isinstance(v, torch.Tensor):
            raise InteropError(f"state dict entry '{k}' is a {type(v).__name__}, not a tensor")
        t = v.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        out[k] = t.numpy().copy()
    return out


def state_dict_to_torch(state: dict) -> dict[str, torch.Tensor]:
    """A certnn state dict as torch tensors for ``torch.nn.Module.load_state_dict``;
    every BatchNorm (a prefix with ``running_mean`` and ``running_var``) gets
    ``num_batches_tracked = 0``."""
    out = {}
    for k, v in state.items():
        a = np.asarray(getattr(v, "data", v))
        if a.dtype == object or a.dtype.kind not in "fiub":
            raise InteropError(f"state dict entry '{k}' has dtype {a.dtype}, not a numeric array")
        out[k] = torch.from_numpy(np.array(a, copy=True))
    for k in list(out):
        if k == "running_mean" or k.endswith(".running_mean"):
            prefix = k[: -len("running_mean")]
            if prefix + "running_var" in out:
                out.setdefault(prefix + _COUNTER, torch.tensor(0, dtype=torch.long))
    return out
