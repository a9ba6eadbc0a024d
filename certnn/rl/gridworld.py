"""GridWorld: one object behind both the MDP facts and training.

:meth:`GridWorld.outcomes` is the single definition of the dynamics: from a
cell and an action, the list of (probability, next cell, reward, terminal).
:meth:`GridWorld.mdp` turns exactly those outcomes into an :class:`MDP` (exact
rationals) for value iteration and policy iteration; :class:`GridWorldEnv` (a
``gymnasium.Env``, registered as ``certnn/GridWorld-v0``) samples from the
same outcomes for training. Nothing is reshaped between the two: the reward is
-1 per step until the goal (0 once there), in both.

Dynamics: actions up, right, down, left; with probability ``slip`` the move
goes to one of the two perpendicular directions instead (half each); moving
into a wall or off the grid stays put. The goal is absorbing with reward 0 in
the MDP; in the environment reaching it terminates the episode.
Observation: the one-hot vector of the current cell (float32).
"""

from __future__ import annotations

from fractions import Fraction

import gymnasium as gym
import numpy as np

from ..errors import CertnnError
from .mdp import MDP

DEFAULT_LAYOUT = ("S...",
                  ".#..",
                  "...#",
                  "#..G")
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))   # up, right, down, left
STEP_REWARD, GOAL_REWARD = -1, 0


class GridWorld:
    def __init__(self, layout=DEFAULT_LAYOUT, slip="0.1"):
        rows = [str(r) for r in layout]
        if not rows or len({len(r) for r in rows}) != 1:
            raise CertnnError("a GridWorld layout is a non-empty list of strings of equal length")
        bad = {ch for r in rows for ch in r} - set("SG.#")
        if bad:
            raise CertnnError(f"GridWorld layout: unknown cell kinds {sorted(bad)} (use S, G, '.', '#')")
        self.layout = tuple(rows)
        self.cells = [(i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch != "#"]
        self.index = {c: k for k, c in enumerate(self.cells)}
        starts = [self.index[c] for c in self.cells if rows[c[0]][c[1]] == "S"]
        goals = [self.index[c] for c in self.cells if rows[c[0]][c[1]] == "G"]
        if len(starts) != 1 or not goals:
            raise CertnnError("GridWorld layout needs exactly one start S and at least one goal G")
        self.start, self.goals = starts[0], frozenset(goals)
        self.slip = Fraction(slip)
        if not 0 <= self.slip <= 1:
            raise CertnnError(f"slip must lie in [0, 1], got {slip}")

    @property
    def n_states(self) -> int:
        return len(self.cells)

    def _move(self, s: int, direction: int) -> int:
        i, j = self.cells[s]
        di, dj = MOVES[direction]
        return self.index.get((i + di, j + dj), s)

    def outcomes(self, s: int, a: int) -> list[tuple[Fraction, int, int, bool]]:
        """(probability, next state, reward, terminal) of taking action a in state s; exact probabilities."""
        if s in self.goals:
            return [(Fraction(1), s, GOAL_REWARD, True)]
        out: dict[int, Fraction] = {}
        for d, p in ((a, 1 - self.slip), ((a + 1) % 4, self.slip / 2), ((a + 3) % 4, self.slip / 2)):
            if p:
                t = self._move(s, d)
                out[t] = out.get(t, Fraction(0)) + p
        return [(p, t, STEP_REWARD, t in self.goals) for t, p in sorted(out.items())]

    def mdp(self, gamma="0.95") -> MDP:
        S = self.n_states
        P = [[[Fraction(0)] * S for _ in range(S)] for _ in MOVES]
        R = [[Fraction(0)] * len(MOVES) for _ in range(S)]
        for s in range(S):
            for a in range(len(MOVES)):
                for p, t, r, _ in self.outcomes(s, a):
                    P[a][s][t] += p
                    R[s][a] += p * r
        return MDP.from_exact(P, R, Fraction(gamma))

    def observation(self, s: int) -> np.ndarray:
        x = np.zeros(self.n_states, np.float32)
        x[s] = 1
        return x

    def state_of(self, obs) -> int:
        return int(np.argmax(obs))

    def env(self, max_steps: int = 100) -> "GridWorldEnv":
        return GridWorldEnv(world=self, max_steps=max_steps)


class GridWorldEnv(gym.Env):
    """The Gymnasium face of a :class:`GridWorld` (sampling its ``outcomes``)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, world: GridWorld | None = None, max_steps: int = 100, render_mode=None):
        self.world = world or GridWorld()
        self.max_steps = int(max_steps)
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.world.n_states,), np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))
        self.reward_range = (min(STEP_REWARD, GOAL_REWARD), max(STEP_REWARD, GOAL_REWARD))
        self.state, self.t = self.world.start, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state, self.t = self.world.start, 0
        return self.world.observation(self.state), {"state": self.state}

    def step(self, action):
        outs = self.world.outcomes(self.state, int(action))
        k = int(self.np_random.choice(len(outs), p=[float(p) for p, *_ in outs]))
        _, self.state, reward, terminal = outs[k]
        self.t += 1
        return (self.world.observation(self.state), float(reward), bool(terminal),
                bool(not terminal and self.t >= self.max_steps), {"state": self.state})

    def render(self):
        rows = [list(r) for r in self.world.layout]
        i, j = self.world.cells[self.state]
        rows[i][j] = "A"
        return "\n".join("".join(r) for r in rows)


gym.register("certnn/GridWorld-v0", entry_point="certnn.rl.gridworld:GridWorldEnv")
