"""DQN and Double DQN (Mnih et al. 2015; van Hasselt et al. 2016) on certnn's
autograd and optimizers.

One checked environment; epsilon-greedy exploration with epsilon decaying
linearly from ``eps_start`` to ``eps_end`` over ``eps_fraction`` of the steps;
a replay buffer (uniform or prioritised); every ``train_freq`` steps,
``gradient_steps`` Adam updates of the Huber loss between Q(s, a) and the TD
target (:func:`certnn.rl.returns.td_target`)

    y = r + gamma (1 - terminated) Q_target(s', a'),   a' = argmax_a Q_target(s', a)  (DQN)
                                                       a' = argmax_a Q(s', a)         (Double DQN)

with the global gradient norm clipped to ``max_grad_norm``; the target
network copies the online one every ``target_update`` environment steps.
A time-limit truncation is stored as not terminated, so its target
bootstraps from the final observation.

Every ``eval_every`` steps the greedy policy plays ``eval_episodes`` episodes
(seeds 1000, 1001, ...: never the final evaluation's); with ``keep_best`` the
returned agent is the snapshot with the best such score (the final score is
measured afterwards, on other seeds).
Defaults: the rl-baselines3-zoo hyperparameters for CartPole-v1 (vanilla DQN), with
a 128-128 network instead of 256-256.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import optim
from ..errors import CertnnError, TrainingError
from ..random import manual_seed
from ..tensor import Tensor, no_grad
from .agent import Agent, evaluate
from .boundary import check_seeding, make_env
from .policies import huber, network, pick
from .replay import PrioritizedReplayBuffer, ReplayBuffer
from .returns import td_target

EVAL_SEED = 1000


@dataclass
class DQNConfig:
    env_id: str = "CartPole-v1"
    total_steps: int = 50_000
    hidden: tuple = (128, 128)
    lr: float = 2.3e-3
    batch_size: int = 64
    buffer_size: int = 100_000
    gamma: float = 0.99
    learning_starts: int = 1000
    train_freq: int = 256
    gradient_steps: int = 128
    target_update: int = 10
    eps_start: float = 1.0
    eps_end: float = 0.04
    eps_fraction: float = 0.16
    double: bool = False
    prioritized: bool = False
    huber_delta: float = 1.0
    max_grad_norm: float = 10.0
    seed: int = 0
    eval_every: int = 2500
    eval_episodes: int = 20
    keep_best: bool = True
    env_kwargs: dict = field(default_factory=dict)

    def epsilon(self, step: int) -> float:
        frac = min(1.0, step / max(1.0, self.eps_fraction * self.total_steps))
        return self.eps_start + frac * (self.eps_end - self.eps_start)


@dataclass
class TrainLog:
    episode_returns: list = field(default_factory=list)     # (env step at the episode's end, return)
    evals: list = field(default_factory=list)               # (env step, mean greedy return)
    losses: list = field(default_factory=list)              # (env step, mean loss of the last updates)
    updates: int = 0
    update_seconds: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items()}


class DQN:
    """The learner: online and target networks, optimizer, replay buffer; ``update`` is one gradient step."""

    def __init__(self, cfg: DQNConfig, obs_dim: int, n_actions: int):
        self.cfg, self.n_actions = cfg, n_actions
        self.q = network(obs_dim, cfg.hidden, n_actions)
        self.target = network(obs_dim, cfg.hidden, n_actions)
        self.target.load_state_dict(self.q.state_dict())
        self.opt = optim.Adam(self.q.parameters(), lr=cfg.lr)
        buf = PrioritizedReplayBuffer if cfg.prioritized else ReplayBuffer
        self.buffer = buf(cfg.buffer_size, (obs_dim,), seed=cfg.seed)

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        with no_grad():
            return np.argmax(self.q(Tensor(obs)).data, axis=1)

    def targets(self, batch: dict) -> np.ndarray:
        """The TD targets of a batch (float32)."""
        with no_grad():
            q_next = self.target(Tensor(batch["next_obs"])).data
            if self.cfg.double:
                a = np.argmax(self.q(Tensor(batch["next_obs"])).data, axis=1)
            else:
                a = np.argmax(q_next, axis=1)
        v_next = q_next[np.arange(len(a)), a]
        return td_target(batch["reward"], v_next, batch["terminated"], self.cfg.gamma)

    def update(self, beta: float = 0.4) -> float:
        cfg = self.cfg
        batch = self.buffer.sample(cfg.batch_size, beta) if cfg.prioritized else self.buffer.sample(cfg.batch_size)
        y = self.targets(batch)
        td = pick(self.q(Tensor(batch["obs"])), batch["action"]) - y
        loss = (huber(td, cfg.huber_delta) * batch["weight"]).mean()
        self.opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm(self.opt.params, cfg.max_grad_norm)
        self.opt.step()
        if cfg.prioritized:
            self.buffer.update_priorities(batch["index"], td.data)
        return float(loss.data)

    def sync_target(self) -> None:
        self.target.load_state_dict(self.q.state_dict())


def discrete_spaces(env) -> tuple[int, int]:
    """(observation size, number of actions) for a flat Box observation and a Discrete action space."""
    import gymnasium as gym
    obs, act = env.observation_space, env.action_space
    if not (isinstance(obs, gym.spaces.Box) and len(obs.shape) == 1 and isinstance(act, gym.spaces.Discrete)):
        raise CertnnError(f"this algorithm needs a flat Box observation and a Discrete action space; "
                          f"{env.env_id} has {obs} and {act}")
    return obs.shape[0], int(act.n)


def train_dqn(cfg: DQNConfig, progress=None) -> tuple[Agent, TrainLog]:
    """Train; ``progress(step, episode_return_or_None)`` is called every step."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):   # small products: one BLAS thread is fastest
        return _train(cfg, progress)


def _train(cfg: DQNConfig, progress) -> tuple[Agent, TrainLog]:
    t_start = time.perf_counter()
    manual_seed(cfg.seed)
    check_seeding(lambda: make_env(cfg.env_id, **cfg.env_kwargs), cfg.seed)
    env = make_env(cfg.env_id, **cfg.env_kwargs)
    obs_dim, n_actions = discrete_spaces(env)
    learner = DQN(cfg, obs_dim, n_actions)
    rng = np.random.default_rng(cfg.seed)
    log = TrainLog()
    config = {"arch": "mlp", "in_features": obs_dim, "hidden": list(cfg.hidden), "num_classes": n_actions}
    agent = Agent("dqn", learner.q, cfg.env_id, config, info={"algo": "double-dqn" if cfg.double else "dqn"})
    best, best_state = -math.inf, None
    obs, _ = env.reset(seed=cfg.seed)
    ep_return, losses = 0.0, []
    for step in range(1, cfg.total_steps + 1):
        if rng.random() < cfg.epsilon(step):
            action = int(rng.integers(n_actions))
        else:
            action = int(learner.greedy(obs[None])[0])
        next_obs, reward, terminated, truncated, _ = env.step(action)
        learner.buffer.add(obs, action, reward, next_obs, terminated)
        ep_return += float(reward)
        finished = None
        if terminated or truncated:
            log.episode_returns.append((step, ep_return))
            finished, ep_return = ep_return, 0.0
            obs, _ = env.reset()
        else:
            obs = next_obs
        if step > cfg.learning_starts and step % cfg.train_freq == 0:
            t0 = time.perf_counter()
            beta = 0.4 + 0.6 * step / cfg.total_steps
            losses = [learner.update(beta) for _ in range(cfg.gradient_steps)]
            log.update_seconds += time.perf_counter() - t0
            log.updates += cfg.gradient_steps
            if not np.all(np.isfinite(losses)):
                raise TrainingError(f"DQN loss became non-finite at step {step}")
            log.losses.append((step, float(np.mean(losses))))
        if step % cfg.target_update == 0:
            learner.sync_target()
        if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.total_steps):
            score = evaluate(agent, cfg.eval_episodes, EVAL_SEED, **cfg.env_kwargs).mean
            log.evals.append((step, score))
            if score >= best:
                best, best_state = score, {k: v.copy() for k, v in learner.q.state_dict().items()}
        if progress is not None:
            progress(step, finished)
    env.close()
    if cfg.keep_best and best_state is not None:
        learner.q.load_state_dict(best_state)
    agent.info.update(best_eval=best if best_state is not None else None)
    log.seconds = time.perf_counter() - t_start
    return agent, log
