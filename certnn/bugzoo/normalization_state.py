"""Card 7, normalization state: BatchNorm's epsilon sits inside the square root,
eval mode uses the running statistics (so it is affine in x and does not depend
on the rest of the batch), and the running statistics update with the
documented momentum and the unbiased batch variance.

Reports: CRADLE (Pham et al., ICSE 2019) and LEMON (Wang et al., ISSTA 2020):
differential testing of deep-learning backends found inconsistent batch
normalization (epsilon placement, variance estimator, moving-statistics
update) producing different predictions from the same model.

``buggy``: a NumPy BatchNorm with the epsilon outside the root,
(x - mean) / (sqrt(var) + eps), and running variance updated with the biased
batch variance. ``fixed``: certnn's ``nn.BatchNorm2d`` (train step composed from
ops; eval is the ``batch_norm`` op).
"""

from __future__ import annotations

import numpy as np

from .card import Findings

NUMBER = 7
TITLE = "Normalization state"
FAMILY = "batch normalization state: epsilon placement, eval statistics, running-statistics update"
REPORTS = ("CRADLE (Pham et al., ICSE 2019): inconsistent backends",
           "LEMON (Wang et al., ISSTA 2020): inconsistencies found by model mutation")
CONTRACT = ("after one training step with momentum m: running_mean = (1-m) r0 + m mean(x), running_var = "
            "(1-m) v0 + m n/(n-1) var(x) (rtol 1e-9); eval output = w (x - running_mean) / sqrt(running_var + eps)"
            " + b (rtol 1e-9), the same for a sample alone as inside a batch, and affine in x")
EVIDENCE = "checked"
ASSUMPTIONS = ()
DOCUMENTED = ("eps-placement", "running-stats")
WEAKENED = {"rtol": 1.0}

C, EPS, MOM = 3, 1e-5, 0.1


def _case():
    rng = np.random.default_rng(7)
    scales = np.array([1.0, 1e-3, 30.0])[None, :, None, None]      # channels of very different spreads
    x_train = rng.standard_normal((4, C, 3, 3)) * scales + 2.0
    x_eval = rng.standard_normal((3, C, 3, 3)) * scales + 2.0
    w, b = np.array([1.5, -0.5, 2.0]), np.array([0.1, 0.2, -0.3])
    return x_train, x_eval, w, b


def buggy(x_train, x_eval, w, b):
    ax, sh = (0, 2, 3), (1, C, 1, 1)
    rm, rv = np.zeros(C), np.ones(C)
    mean, var = x_train.mean(axis=ax), x_train.var(axis=ax)            # biased, also for the running update
    rm, rv = (1 - MOM) * rm + MOM * mean, (1 - MOM) * rv + MOM * var
    y = (x_eval - rm.reshape(sh)) / (np.sqrt(rv.reshape(sh)) + EPS) * w.reshape(sh) + b.reshape(sh)
    return rm, rv, y, lambda x: (x - rm.reshape(sh)) / (np.sqrt(rv.reshape(sh)) + EPS) * w.reshape(sh) + b.reshape(sh)


def fixed(x_train, x_eval, w, b):
    from ..nn import BatchNorm2d
    from ..tensor import Tensor, no_grad
    bn = BatchNorm2d(C, eps=EPS, momentum=MOM, dtype=np.float64)
    bn.weight.data[...], bn.bias.data[...] = w, b
    with no_grad():
        bn.train()
        bn(Tensor(x_train))
        bn.eval()

        def run(x):
            return bn(Tensor(x)).data
        return bn.running_mean.data.copy(), bn.running_var.data.copy(), run(x_eval), run


def contract(impl, rtol: float = 1e-9):
    f = Findings()
    x_train, x_eval, w, b = _case()
    rm, rv, y, run = impl(x_train, x_eval, w, b)
    rm, rv = np.asarray(rm, np.float64), np.asarray(rv, np.float64)
    n = x_train.size // C
    mean = x_train.mean(axis=(0, 2, 3))
    unbiased = x_train.var(axis=(0, 2, 3)) * n / (n - 1)
    exp_rm, exp_rv = (1 - MOM) * 0 + MOM * mean, (1 - MOM) * 1 + MOM * unbiased
    stat_err = float(max(np.max(np.abs(rm - exp_rm) / np.abs(exp_rm)), np.max(np.abs(rv - exp_rv) / exp_rv)))
    f.check(stat_err <= rtol, "running-stats", lambda: f"running statistics off by a relative {stat_err:.3g} "
                                                      "(momentum and unbiased variance expected)")
    sh = (1, C, 1, 1)
    ref = w.reshape(sh) * (x_eval - rm.reshape(sh)) / np.sqrt(rv.reshape(sh) + EPS) + b.reshape(sh)
    out_err = float(np.max(np.abs(y - ref) / (1 + np.abs(ref))))
    f.check(out_err <= rtol, "eps-placement",
            lambda: f"eval output differs from w (x - mean)/sqrt(var + eps) + b by {out_err:.3g} (relative)")
    alone = run(x_eval[1:2])
    f.check(np.allclose(alone, y[1:2], rtol=rtol, atol=0), "eval-batch-dependent",
            "a sample evaluated alone differs from the same sample inside the batch")
    mix = run(0.25 * x_eval[:1] + 0.75 * x_eval[2:3])
    f.check(np.allclose(mix, 0.25 * y[:1] + 0.75 * y[2:3], rtol=max(rtol, 1e-12), atol=1e-12), "eval-not-affine",
            "eval output is not affine in x")
    f.note(running_stats_rel_error=stat_err, eval_rel_error=out_err)
    return f.verdict("running statistics and eval output as documented")
