"""PPO (Schulman et al. 2017) on certnn's autograd and optimizers, for discrete
(categorical) and continuous (diagonal Gaussian, state-independent log std)
actions.

Collection: ``n_envs`` copies of the environment in a checked vector
environment with Gymnasium's next-step autoreset, ``n_steps`` steps per
iteration. A step that is a sub-environment's autoreset (it ended at the
previous step) is not a transition: its action was ignored, and it is masked
out of the loss. Values are those of the observation each step acted on; the
observation a step returns is the next step's, so for an ending episode it is
the final observation, and a truncated step bootstraps from its value
(:func:`certnn.rl.returns.gae`); a terminated one does not.

Update: ``n_epochs`` passes over the valid transitions in shuffled
minibatches of ``batch_size``, advantages normalised per minibatch, loss

    L = mean(max(-A r, -A clip(r, 1 - c, 1 + c))) + vf_coef mean((V - R)^2) - ent_coef mean(H),
    r = exp(log pi(a|s) - log pi_old(a|s)),

Adam (eps 1e-5) over actor, critic (and log std), global gradient norm
clipped to ``max_grad_norm``; the learning rate (and optionally the clip
range) anneal linearly to 0. Gaussian actions are sampled unclipped (their
log-probabilities are those of the sample) and clipped to the action box when
sent to the environment. Networks: separate actor and critic MLPs with
orthogonal initialisation (gain sqrt 2 for hidden layers, 0.01 for the actor's
output, 1 for the critic's).

Defaults: the rl-baselines3-zoo hyperparameters for CartPole-v1;
:func:`pendulum_config` gives Pendulum-v1's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from .. import functional as F
from .. import optim
from ..errors import CertnnError, TrainingError
from ..nn.module import Parameter
from ..random import default_rng, manual_seed
from ..tensor import Tensor, no_grad
from .agent import Agent, evaluate
from .boundary import check_seeding, make_vector_env
from .dqn import EVAL_SEED, TrainLog
from .policies import Categorical, DiagGaussian, clamp, network
from .returns import gae


@dataclass
class PPOConfig:
    env_id: str = "CartPole-v1"
    total_steps: int = 100_000
    n_envs: int = 8
    n_steps: int = 32
    batch_size: int = 256
    n_epochs: int = 20
    lr: float = 1e-3
    anneal_lr: bool = True
    gamma: float = 0.98
    gae_lambda: float = 0.8
    clip: float = 0.2
    anneal_clip: bool = True
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0
    seed: int = 0
    eval_every: int = 10_000
    eval_episodes: int = 20
    keep_best: bool = True
    env_kwargs: dict = field(default_factory=dict)


def pendulum_config(**kw) -> PPOConfig:
    """rl-baselines3-zoo's PPO settings for Pendulum-v1 (without gSDE)."""
    base = dict(env_id="Pendulum-v1", total_steps=100_000, n_envs=4, n_steps=1024, batch_size=64, n_epochs=10,
                lr=1e-3, anneal_lr=False, gamma=0.9, gae_lambda=0.95, clip=0.2, anneal_clip=False, ent_coef=0.0)
    base.update(kw)
    return PPOConfig(**base)


def orthogonal_init(net, out_gain: float) -> None:
    """Orthogonal weights (gain sqrt 2, ``out_gain`` for the last layer) and zero biases, in place."""
    rng = default_rng()
    linears = [m for m in net.modules() if hasattr(m, "weight") and m.weight.ndim == 2]
    for k, m in enumerate(linears):
        gain = out_gain if k == len(linears) - 1 else math.sqrt(2)
        rows, cols = m.weight.shape
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q = q * np.sign(np.diag(r))
        w = q if rows >= cols else q.T
        m.weight.data[...] = gain * w[:rows, :cols]
        if m.bias is not None:
            m.bias.data[...] = 0


class PPO:
    """Actor, critic, optimizer; ``update`` runs the epochs over one rollout."""

    def __init__(self, cfg: PPOConfig, obs_dim: int, action_space):
        self.cfg = cfg
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        self.out_dim = out = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.actor = network(obs_dim, cfg.hidden, out, cfg.activation)
        self.critic = network(obs_dim, cfg.hidden, 1, cfg.activation)
        orthogonal_init(self.actor, 0.01)
        orthogonal_init(self.critic, 1.0)
        params = self.actor.parameters() + self.critic.parameters()
        self.log_std = None
        if not self.discrete:
            self.log_std = Parameter(np.full(out, cfg.log_std_init, np.float32))
            params.append(self.log_std)
            self.low, self.high = action_space.low, action_space.high
        self.opt = optim.Adam(params, lr=cfg.lr, eps=1e-5)

    def dist(self, obs: Tensor):
        out = self.actor(obs)
        return Categorical(out) if self.discrete else DiagGaussian(out, self.log_std)

    def value(self, obs: np.ndarray) -> np.ndarray:
        with no_grad():
            return self.critic(Tensor(obs)).data[:, 0]

    def loss(self, obs, actions, old_logp, adv, returns, clip: float) -> Tensor:
        cfg = self.cfg
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        d = self.dist(Tensor(obs))
        ratio = F.exp(d.log_prob(actions) - old_logp)
        policy = F.maximum(-adv * ratio, -adv * clamp(ratio, 1 - clip, 1 + clip)).mean()
        value = F.mse(self.critic(Tensor(obs))[:, 0], Tensor(returns))
        return policy + cfg.vf_coef * value - cfg.ent_coef * d.entropy().mean()

    def update(self, batch: dict, clip: float, rng: np.random.Generator) -> list:
        cfg, n = self.cfg, len(batch["obs"])
        losses = []
        for _ in range(cfg.n_epochs):
            order = rng.permutation(n)
            for start in range(0, n, cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                if len(idx) < 2:
                    continue
                loss = self.loss(*(batch[k][idx] for k in ("obs", "action", "logp", "adv", "ret")), clip)
                self.opt.zero_grad()
                loss.backward()
                optim.clip_grad_norm(self.opt.params, cfg.max_grad_norm)
                self.opt.step()
                losses.append(float(loss.data))
        return losses

    def agent(self, env_id: str, obs_dim: int) -> Agent:
        config = {"arch": "mlp", "in_features": obs_dim, "hidden": list(self.cfg.hidden),
                  "num_classes": self.out_dim, "activation": self.cfg.activation}
        if self.discrete:
            return Agent("ppo-discrete", self.actor, env_id, config, info={"algo": "ppo"})
        return Agent("ppo-gaussian", self.actor, env_id, config, self.log_std.data.copy(),
                     self.low.astype(np.float32), self.high.astype(np.float32), info={"algo": "ppo"})


def collect(learner: PPO, env, obs: np.ndarray, n_steps: int, rng, stats: dict):
    """One rollout of ``n_steps`` vector steps; returns (the flat batch of valid transitions, the last obs)."""
    cfg = learner.cfg
    T, N = n_steps, env.num_envs
    obs_buf = np.zeros((T + 1,) + obs.shape, np.float32)
    keys = ("action", "logp", "value", "reward", "terminated", "truncated", "valid")
    buf = {k: [] for k in keys}
    for t in range(T):
        obs_buf[t] = obs
        with no_grad():
            d = learner.dist(Tensor(obs))
            action = d.sample(rng)
            logp = d.log_prob(action).data
        valid = ~env.autoreset_rows
        env_action = action if learner.discrete else np.clip(action, learner.low, learner.high).astype(np.float32)
        obs, reward, term, trunc, _ = env.step(env_action)
        for k, v in zip(keys, (action, logp, learner.value(obs_buf[t]), reward.astype(np.float32), term, trunc,
                               valid)):
            buf[k].append(v)
        stats["ret"] += np.where(valid, reward, 0.0)
        for i in np.flatnonzero((term | trunc) & valid):
            stats["episodes"].append(float(stats["ret"][i]))
            stats["ret"][i] = 0.0
    obs_buf[T] = obs
    arr = {k: np.stack(v) for k, v in buf.items()}
    next_values = np.concatenate([arr["value"][1:], learner.value(obs)[None]])
    adv, ret = gae(arr["reward"], arr["value"], next_values, arr["terminated"], arr["truncated"],
                   cfg.gamma, cfg.gae_lambda)
    mask = arr["valid"].reshape(-1)
    flat = lambda a: a.reshape((T * N,) + a.shape[2:])[mask]  # noqa: E731
    batch = {"obs": flat(obs_buf[:T]), "action": flat(arr["action"]), "logp": flat(arr["logp"]),
             "adv": flat(adv), "ret": flat(ret)}
    return batch, obs


def train_ppo(cfg: PPOConfig, progress=None) -> tuple[Agent, TrainLog]:
    """Train; ``progress(step, episode_return_or_None)`` is called as steps are collected."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(cfg, progress)


def _train(cfg: PPOConfig, progress) -> tuple[Agent, TrainLog]:
    t_start = time.perf_counter()
    manual_seed(cfg.seed)
    check_seeding(lambda: make_vector_env(cfg.env_id, 2, **cfg.env_kwargs), cfg.seed)
    env = make_vector_env(cfg.env_id, cfg.n_envs, **cfg.env_kwargs)
    space = env.single_observation_space
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
        raise CertnnError(f"PPO needs a flat Box observation space; {cfg.env_id} has {space}")
    action_space = env.single_action_space
    if not isinstance(action_space, gym.spaces.Discrete | gym.spaces.Box):
        raise CertnnError(f"PPO needs a Discrete or Box action space; {cfg.env_id} has {action_space}")
    obs_dim = space.shape[0]
    learner = PPO(cfg, obs_dim, action_space)
    agent = learner.agent(cfg.env_id, obs_dim)
    rng = np.random.default_rng(cfg.seed)
    log = TrainLog()
    stats = {"ret": np.zeros(cfg.n_envs), "episodes": []}
    iterations = max(1, cfg.total_steps // (cfg.n_envs * cfg.n_steps))
    best, best_state = -math.inf, None
    obs, _ = env.reset(seed=cfg.seed)
    step = 0
    for it in range(iterations):
        frac = 1.0 - it / iterations
        learner.opt.lr = cfg.lr * (frac if cfg.anneal_lr else 1.0)
        clip = cfg.clip * (frac if cfg.anneal_clip else 1.0)
        batch, obs = collect(learner, env, obs, cfg.n_steps, rng, stats)
        step += cfg.n_envs * cfg.n_steps
        finished = stats["episodes"]
        log.episode_returns += [(step, r) for r in finished]
        t0 = time.perf_counter()
        losses = learner.update(batch, clip, rng)
        log.update_seconds += time.perf_counter() - t0
        log.updates += len(losses)
        if not np.all(np.isfinite(losses)):
            raise TrainingError(f"PPO loss became non-finite at iteration {it + 1} (step {step})")
        log.losses.append((step, float(np.mean(losses))))
        if cfg.eval_every and (step // cfg.eval_every > (step - cfg.n_envs * cfg.n_steps) // cfg.eval_every
                               or it == iterations - 1):
            score = evaluate(agent, cfg.eval_episodes, EVAL_SEED, **cfg.env_kwargs).mean
            log.evals.append((step, score))
            if score >= best:
                best = score
                best_state = ({k: v.copy() for k, v in learner.actor.state_dict().items()},
                              None if learner.discrete else learner.log_std.data.copy())
        if progress is not None:
            progress(step, finished[-1] if finished else None)
        stats["episodes"] = []
    env.close()
    if cfg.keep_best and best_state is not None:
        learner.actor.load_state_dict(best_state[0])
        if best_state[1] is not None:
            learner.log_std.data[...] = best_state[1]
    if not learner.discrete:
        agent.log_std = learner.log_std.data.copy()
    agent.info.update(best_eval=best if best_state is not None else None)
    log.seconds = time.perf_counter() - t_start
    return agent, log
