"""DQN and PPO on certnn's autograd: the losses' gradients against PyTorch, rollout masking of
autoreset steps, tiny training runs, saving and loading agents."""

import numpy as np
import pytest

from certnn.rl.agent import Agent, evaluate
from certnn.rl.boundary import make_vector_env
from certnn.rl.dqn import DQN, DQNConfig, train_dqn
from certnn.rl.gridworld import GridWorld
from certnn.rl.policies import Categorical, DiagGaussian, huber, pick
from certnn.rl.ppo import PPO, PPOConfig, collect, pendulum_config, train_ppo
from certnn.rl.solve import evaluate_policy_exact, policy_iteration
from certnn.tensor import Tensor

torch = pytest.importorskip("torch")


def _to_torch(net):
    layers = []
    for m in net:
        name = type(m).__name__
        if name == "Linear":
            lin = torch.nn.Linear(m.in_features, m.out_features).double()
            lin.weight.data = torch.tensor(m.weight.data, dtype=torch.float64)
            lin.bias.data = torch.tensor(m.bias.data, dtype=torch.float64)
            layers.append(lin)
        else:
            layers.append({"ReLU": torch.nn.ReLU, "Tanh": torch.nn.Tanh}[name]())
    return torch.nn.Sequential(*layers)


def _grads_equal(net, tnet):
    ours = [p.grad for p in net.parameters()]
    theirs = [p.grad.numpy() for p in tnet.parameters()]
    for a, b in zip(ours, theirs):
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_dqn_loss_gradient_matches_torch():
    rng = np.random.default_rng(0)
    learner = DQN(DQNConfig(hidden=(16,), batch_size=32), 4, 3)
    learner.q.to(np.float64)
    s, a = rng.normal(size=(32, 4)), rng.integers(0, 3, 32)
    y = rng.normal(size=32) * 3
    w = rng.random(32)
    loss = (huber(pick(learner.q(Tensor(s)), a) - y, 1.0) * w).mean()
    loss.backward()
    tq = _to_torch(learner.q)
    qa = tq(torch.tensor(s)).gather(1, torch.tensor(a)[:, None])[:, 0]
    tl = (torch.nn.functional.smooth_l1_loss(qa, torch.tensor(y), reduction="none") * torch.tensor(w)).mean()
    tl.backward()
    assert float(loss.data) == pytest.approx(tl.item(), rel=1e-12)
    _grads_equal(learner.q, tq)


@pytest.mark.parametrize("discrete", [True, False])
def test_ppo_loss_gradient_matches_torch(discrete):
    import gymnasium as gym
    rng = np.random.default_rng(1)
    space = gym.spaces.Discrete(3) if discrete else gym.spaces.Box(-2, 2, (2,), np.float32)
    learner = PPO(PPOConfig(hidden=(8,), ent_coef=0.01), 4, space)
    for m in (learner.actor, learner.critic):
        m.to(np.float64)
    if not discrete:
        learner.log_std.data = np.array([0.1, -0.3])
    n = 16
    obs = rng.normal(size=(n, 4))
    act = rng.integers(0, 3, n) if discrete else rng.normal(size=(n, 2))
    old = rng.normal(size=n) * 0.3 - 1.5
    adv, ret = rng.normal(size=n), rng.normal(size=n)
    loss = learner.loss(obs, act, old, adv, ret, 0.2)
    loss.backward()
    ta, tc = _to_torch(learner.actor), _to_torch(learner.critic)
    out = ta(torch.tensor(obs))
    if discrete:
        dist = torch.distributions.Categorical(logits=out)
        logp, ent = dist.log_prob(torch.tensor(act)), dist.entropy()
    else:
        ls = torch.tensor(learner.log_std.data, requires_grad=True)
        dist = torch.distributions.Normal(out, ls.exp())
        logp, ent = dist.log_prob(torch.tensor(act)).sum(1), dist.entropy().sum(1)
    A = torch.tensor((adv - adv.mean()) / (adv.std() + 1e-8))
    ratio = (logp - torch.tensor(old)).exp()
    pg = torch.max(-A * ratio, -A * ratio.clamp(0.8, 1.2)).mean()
    vl = ((tc(torch.tensor(obs))[:, 0] - torch.tensor(ret)) ** 2).mean()
    tl = pg + 0.5 * vl - 0.01 * ent.mean()
    tl.backward()
    assert float(loss.data) == pytest.approx(tl.item(), rel=1e-10)
    _grads_equal(learner.actor, ta)
    _grads_equal(learner.critic, tc)
    if not discrete:
        assert np.allclose(learner.log_std.grad, ls.grad.numpy(), rtol=1e-9)


def test_distributions_sample_what_they_say():
    rng = np.random.default_rng(0)
    logits = Tensor(np.log(np.array([[0.2, 0.5, 0.3]] * 20000)))
    counts = np.bincount(Categorical(logits).sample(rng), minlength=3) / 20000
    assert np.allclose(counts, [0.2, 0.5, 0.3], atol=0.015)
    g = DiagGaussian(Tensor(np.full((20000, 1), 1.5)), Tensor(np.array([np.log(0.5)])))
    x = g.sample(rng)
    assert abs(x.mean() - 1.5) < 0.02 and abs(x.std() - 0.5) < 0.02


def test_ppo_rollout_masks_autoreset_steps_and_bootstraps_truncation():
    cfg = PPOConfig(n_envs=3, n_steps=64, hidden=(8,))
    env = make_vector_env("CartPole-v1", 3)
    learner = PPO(cfg, 4, env.single_action_space)
    obs, _ = env.reset(seed=0)
    stats = {"ret": np.zeros(3), "episodes": []}
    batch, _ = collect(learner, env, obs, 64, np.random.default_rng(0), stats)
    ended = len(stats["episodes"])
    assert ended > 0
    # every episode that ended before the last step costs one autoreset step, which is dropped
    dropped = 64 * 3 - len(batch["obs"])
    assert ended - 3 <= dropped <= ended      # an episode ending at the very last step has its reset next time
    # CartPole pays 1 per real step: the returns of the ended episodes count only unmasked steps
    assert sum(stats["episodes"]) <= len(batch["obs"])


def test_tiny_dqn_run_learns_gridworld(tmp_path):
    w = GridWorld(slip=0)
    cfg = DQNConfig(env_id="certnn/GridWorld-v0", total_steps=3000, hidden=(32,), lr=3e-3, batch_size=32,
                    buffer_size=5000, learning_starts=200, train_freq=4, gradient_steps=1, target_update=100,
                    eps_fraction=0.5, eval_every=1000, eval_episodes=5, gamma=0.95,
                    env_kwargs={"world": w, "max_steps": 50})
    agent, log = train_dqn(cfg)
    assert log.updates > 0 and np.all(np.isfinite([l for _, l in log.losses]))
    policy = agent.act(np.eye(w.n_states, dtype=np.float32))
    m = w.mdp("0.95")
    v = evaluate_policy_exact(m, policy)
    v_star = policy_iteration(m).values
    assert float(v[w.start]) >= float(v_star[w.start]) - 1e-9       # the learned greedy policy is optimal


def test_tiny_ppo_runs_save_load_and_evaluate(tmp_path):
    agent, log = train_ppo(PPOConfig(total_steps=512, n_envs=4, n_steps=32, batch_size=64, n_epochs=2,
                                     hidden=(16,), eval_every=0))
    assert log.updates == 4 * 2 * 2 and agent.kind == "ppo-discrete"   # 4 iterations, 2 epochs, 2 minibatches
    agent.save(tmp_path)
    back = Agent.load(tmp_path)
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    assert np.array_equal(back.act(obs), agent.act(obs))
    ev = evaluate(back, 3, record=tmp_path / "r.npz")
    assert len(ev.returns) == 3 and all(r >= 1 for r in ev.returns)
    g, log = train_ppo(pendulum_config(total_steps=256, n_steps=64, batch_size=64, n_epochs=1, hidden=(8,),
                                       eval_every=0))
    assert g.kind == "ppo-gaussian" and g.log_std.shape == (1,)
    a = g.act(np.zeros((2, 3), np.float32))
    assert a.dtype == np.float32 and np.all(np.abs(a) <= 2)
