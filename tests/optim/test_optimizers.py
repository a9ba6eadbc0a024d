import math

import numpy as np
import pytest

from certnn.errors import CheckpointError
from certnn.optim import SGD, Adam, AdamW
from certnn.tensor import Tensor

# quadratic f(x) = 0.5 x.A x - b.x, gradient A x - b, minimum A^-1 b
A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
B = np.array([1.0, -2.0, 0.5])
X0 = np.array([2.0, -1.0, 3.0])
X_STAR = np.linalg.solve(A, B)


def grad(x):
    return A @ x - B


def param(x=X0, dtype=np.float64):
    return Tensor(np.array(x, dtype=dtype), requires_grad=True)


def run(opt, p, steps):
    traj = []
    for _ in range(steps):
        p.grad = grad(p.data.astype(np.float64)).astype(p.data.dtype)
        opt.step()
        traj.append(p.data.copy())
    return np.array(traj)


# ---- references: PyTorch's documented pseudo-code, written out plainly ----------------

def ref_sgd(x, steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    x, b, traj = x.copy(), None, []
    for t in range(1, steps + 1):
        g = grad(x)
        if weight_decay != 0:
            g = g + weight_decay * x
        if momentum != 0:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        x = x - lr * g
        traj.append(x)
    return np.array(traj)


def ref_adam(x, steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    x, m, v, traj = x.copy(), np.zeros_like(x), np.zeros_like(x), []
    for t in range(1, steps + 1):
        g = grad(x)
        if decoupled:
            x = x - lr * weight_decay * x
        elif weight_decay != 0:
            g = g + weight_decay * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        traj.append(x)
    return np.array(traj)


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_matches_reference(kw):
    p = param()
    np.testing.assert_allclose(run(SGD([p], **kw), p, 25), ref_sgd(X0, 25, **kw), rtol=1e-12, atol=1e-14)


def test_sgd_plain_closed_form():
    # diagonal quadratic: x_t = (1 - lr * a)^t x0 exactly
    a, lr = np.array([1.0, 0.5, 2.0]), 0.1
    p = param()
    opt = SGD([p], lr=lr)
    for t in range(1, 11):
        p.grad = a * p.data
        opt.step()
        np.testing.assert_allclose(p.data, (1 - lr * a) ** t * X0, rtol=1e-13)


ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, betas=(0.0, 0.5)),
]


@pytest.mark.parametrize("kw", ADAM_CASES)
def test_adam_matches_reference(kw):
    p = param()
    np.testing.assert_allclose(run(Adam([p], **kw), p, 30), ref_adam(X0, 30, **kw), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", ADAM_CASES[:2] + [dict(lr=0.01, weight_decay=0.3), dict(lr=0.01)])
def test_adamw_matches_reference(kw):
    p = param()
    wd = kw.get("weight_decay", 1e-2)  # AdamW's default
    expected = ref_adam(X0, 30, **{**kw, "weight_decay": wd}, decoupled=True)
    np.testing.assert_allclose(run(AdamW([p], **kw), p, 30), expected, rtol=1e-12, atol=1e-14)


def test_adam_and_adamw_differ_only_with_weight_decay():
    p1, p2, p3 = param(), param(), param()
    np.testing.assert_array_equal(run(Adam([p1], lr=0.01), p1, 5), run(AdamW([p2], lr=0.01, weight_decay=0), p2, 5))
    assert not np.allclose(run(Adam([p3], lr=0.01, weight_decay=0.5), p3, 5)[-1], p2.data)


def test_adam_constant_gradient_closed_form():
    # constant g: m_hat = g and v_hat = g^2 at every t, so each step moves by lr * g / (|g| + eps)
    c, lr, eps = np.array([2.0, -0.5, 1e-3]), 0.01, 1e-8
    p = param()
    opt = Adam([p], lr=lr, eps=eps)
    for t in range(1, 21):
        p.grad = c.copy()
        opt.step()
        np.testing.assert_allclose(p.data, X0 - t * lr * c / (np.abs(c) + eps), rtol=1e-10)


@pytest.mark.parametrize("make,steps", [
    (lambda ps: SGD(ps, lr=0.1), 300),
    (lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True), 300),
    (lambda ps: Adam(ps, lr=0.05), 1500),
    (lambda ps: AdamW(ps, lr=0.05, weight_decay=0.0), 1500),
])
def test_converges_on_quadratic(make, steps):
    p = param()
    run(make([p]), p, steps)
    np.testing.assert_allclose(p.data, X_STAR, atol=1e-4)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                                  lambda ps: Adam(ps, lr=0.01, weight_decay=0.01),
                                  lambda ps: AdamW(ps, lr=0.01)])
def test_float32_stays_float32_and_updates_in_place(make):
    p = param(dtype=np.float32)
    buf = p.data
    view = p.data[:2]
    opt = make([p])
    traj = run(opt, p, 10)
    assert p.data is buf and p.data.dtype == np.float32
    np.testing.assert_array_equal(view, p.data[:2])
    assert all(v.dtype == np.float32 for v in opt.state_dict().values() if isinstance(v, np.ndarray))
    # and close to the float64 run
    p64 = param()
    np.testing.assert_allclose(traj, run(make([p64]), p64, 10), rtol=1e-4, atol=1e-5)


def test_float64_grad_on_float32_param_is_cast():
    p = param(dtype=np.float32)
    opt = SGD([p], lr=0.1)
    p.grad = np.ones(3)  # float64
    opt.step()
    assert p.data.dtype == np.float32


def test_params_without_grad_are_skipped():
    p, q = param(), param([1.0, 1.0, 1.0])
    opt = Adam([p, q], lr=0.1)
    p.grad = grad(p.data)
    opt.step()
    np.testing.assert_array_equal(q.data, [1.0, 1.0, 1.0])
    sd = opt.state_dict()
    assert sd["param.0.step"] == 1 and "param.1.step" not in sd
    q.grad = np.ones(3)
    p.grad = None
    opt.step()
    # q's first Adam step (per-parameter step count, as in PyTorch): moves by lr * 1 / (1 + eps)
    np.testing.assert_allclose(q.data, 1 - 0.1 / (1 + 1e-8))
    assert opt.state_dict()["param.0.step"] == 1


def test_zero_grad():
    p, q = param(), param()
    p.grad, q.grad = np.ones(3), np.ones(3)
    opt = SGD([p, q], lr=0.1)
    opt.zero_grad()
    assert p.grad is None and q.grad is None
    opt.step()  # nothing to do
    np.testing.assert_array_equal(p.data, X0)


def test_lr_attribute_is_used_and_validated():
    p = param()
    opt = SGD([p], lr=0.1)
    assert opt.lr == opt.base_lr == 0.1
    opt.lr = 0.0
    p.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(p.data, X0)
    opt.lr = np.float64(0.5)
    assert type(opt.lr) is float and opt.base_lr == 0.1
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1e-3


@pytest.mark.parametrize("make,match", [
    (lambda ps: SGD(ps, lr=-0.1), "learning rate"),
    (lambda ps: SGD(ps, lr=float("nan")), "learning rate"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), "Nesterov"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, dampening=0.1), "Nesterov"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "momentum"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda ps: Adam(ps, lr=-1), "learning rate"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), "beta1"),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), "beta2"),
    (lambda ps: Adam(ps, betas=(0.9,)), "betas"),
    (lambda ps: AdamW(ps, betas="ab"), "betas"),
    (lambda ps: Adam(ps, eps=-1), "eps"),
    (lambda ps: AdamW(ps, weight_decay=-0.1), "weight_decay"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make([param()])


def test_bad_parameter_lists():
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    p = param()
    with pytest.raises(ValueError, match="more than once"):
        SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="floating"):
        SGD([Tensor(np.arange(3))], lr=0.1)
    opt = SGD([p], lr=0.1)
    p.grad = np.ones(4)
    with pytest.raises(ValueError, match="grad shape"):
        opt.step()


def test_nan_gradient_propagates_without_warnings():
    p = param(dtype=np.float32)
    opt = Adam([p], lr=0.1)
    p.grad = np.array([np.nan, np.inf, 1e30], np.float32)  # g*g overflows float32
    opt.step()
    assert np.isnan(p.data[0]) and np.isfinite(p.data[2])


# ---- state_dict -----------------------------------------------------------------------

MAKERS = [
    lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: SGD(ps, lr=0.05, momentum=0.5, dampening=0.2),
    lambda ps: Adam(ps, lr=0.02, betas=(0.8, 0.95), weight_decay=0.01),
    lambda ps: AdamW(ps, lr=0.02, weight_decay=0.1),
]


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_dict_round_trip_resumes_identically(tmp_path, make, dtype):
    p = param(dtype=dtype)
    opt = make([p])
    run(opt, p, 7)
    opt.lr = 0.013  # as a schedule would have left it
    saved_x, sd = p.data.copy(), opt.state_dict()
    assert all(isinstance(v, (int, float, bool, np.ndarray)) for v in sd.values()), sd
    # plain numbers and arrays: np.savez without pickle can hold it
    np.savez(tmp_path / "opt.npz", **sd)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}
    expected = run(opt, p, 10)

    p2 = param(saved_x, dtype=dtype)
    opt2 = make([p2])
    opt2.load_state_dict(loaded)
    assert opt2.lr == 0.013 and opt2.base_lr == opt.base_lr
    np.testing.assert_array_equal(run(opt2, p2, 10), expected)  # bit for bit


def test_state_dict_returns_copies():
    p = param()
    opt = SGD([p], lr=0.1, momentum=0.9)
    run(opt, p, 2)
    sd = opt.state_dict()
    before = sd["param.0.momentum_buffer"].copy()
    run(opt, p, 2)
    np.testing.assert_array_equal(sd["param.0.momentum_buffer"], before)


def test_load_state_dict_restores_hyperparameters():
    p = param()
    sd = SGD([p], lr=0.3, momentum=0.7, nesterov=True).state_dict()
    opt = SGD([param()], lr=0.1)
    opt.load_state_dict(sd)
    assert (opt.lr, opt.momentum, opt.nesterov) == (0.3, 0.7, True)


def test_load_state_dict_errors():
    p = param()
    adam = Adam([p], lr=0.1)
    run(adam, p, 2)
    sd = adam.state_dict()
    with pytest.raises(CheckpointError, match="kind"):
        AdamW([param()]).load_state_dict(sd)
    with pytest.raises(CheckpointError, match="kind"):
        SGD([param()], lr=0.1).load_state_dict(sd)
    with pytest.raises(CheckpointError, match="for 1 parameters"):
        Adam([param(), param()]).load_state_dict(sd)
    with pytest.raises(CheckpointError, match="shape"):
        Adam([param([1.0, 2.0])]).load_state_dict(sd)
    with pytest.raises(CheckpointError, match="unexpected key 'param.0.bogus'"):
        Adam([param()]).load_state_dict({**sd, "param.0.bogus": np.zeros(3)})
    with pytest.raises(CheckpointError, match="lacks"):
        Adam([param()]).load_state_dict({k: v for k, v in sd.items() if k != "beta2"})
    # a failed load leaves the optimizer as it was
    fresh = Adam([param()])
    with pytest.raises(CheckpointError):
        fresh.load_state_dict({**sd, "param.0.exp_avg": np.zeros(5)})
    assert fresh.state_dict().keys() == Adam([param()]).state_dict().keys()


def test_betas_property():
    assert Adam([param()], betas=(0.5, 0.6)).betas == (0.5, 0.6)
    assert math.isclose(AdamW([param()]).weight_decay, 1e-2)
