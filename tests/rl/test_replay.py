"""Replay buffers: FIFO order and eviction content (hypothesis stateful tests), seeded sampling,
the sum tree and prioritised sampling."""

from collections import deque

import numpy as np
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from certnn.errors import CertnnError
from certnn.rl.replay import PrioritizedReplayBuffer, ReplayBuffer, SumTree


class FIFOMachine(RuleBasedStateMachine):
    """The buffer holds exactly the last `capacity` transitions added, oldest first, with their content;
    priorities follow their transitions and the tree's total is their sum."""

    @initialize(capacity=st.integers(1, 7), prioritized=st.booleans())
    def make(self, capacity, prioritized):
        cls = PrioritizedReplayBuffer if prioritized else ReplayBuffer
        self.buf = cls(capacity, (2,), seed=0)
        self.model = deque(maxlen=capacity)      # (counter, priority)
        self.counter = 0
        self.prioritized = prioritized
        self.model_max = 1.0                     # new items get the largest priority seen so far

    @rule()
    def add(self):
        c = self.counter
        self.buf.add([c, -c], c % 3, float(c), [c + 1, -c - 1], c % 2 == 0)
        self.model.append([c, self.model_max if self.prioritized else None])
        self.counter += 1

    @precondition(lambda self: len(self.model) > 0 and self.prioritized)
    @rule(data=st.data())
    def reprioritize(self, data):
        k = data.draw(st.integers(0, len(self.model) - 1))
        td = data.draw(st.floats(0, 100))
        slot = int(self.buf.order()[k])
        self.buf.update_priorities([slot], [td])
        self.model[k][1] = (abs(td) + self.buf.eps) ** self.buf.alpha
        self.model_max = max(self.model_max, self.model[k][1])

    @precondition(lambda self: len(self.model) > 0)
    @rule(n=st.integers(1, 20))
    def sample(self, n):
        b = self.buf.sample(n)
        assert np.all(b["index"] < len(self.buf))
        # every sampled transition is a stored one, intact
        assert np.array_equal(b["next_obs"][:, 0], b["obs"][:, 0] + 1)
        assert set(b["reward"].astype(int)) <= {c for c, _ in self.model}

    @invariant()
    def contents_in_order(self):
        if not hasattr(self, "buf"):
            return
        got = self.buf.get(self.buf.order())
        want = [c for c, _ in self.model]
        assert len(self.buf) == len(want)
        assert got["reward"].astype(int).tolist() == want
        assert got["obs"][:, 1].astype(int).tolist() == [-c for c in want]
        assert got["action"].tolist() == [c % 3 for c in want]
        assert got["terminated"].tolist() == [c % 2 == 0 for c in want]
        if self.prioritized:
            assert np.allclose(self.buf.priorities(), [p for _, p in self.model])
            assert self.buf.tree.total == pytest.approx(sum(p for _, p in self.model))


TestFIFO = FIFOMachine.TestCase
TestFIFO.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)


def test_seeded_sampling_is_reproducible():
    def fill(seed):
        b = ReplayBuffer(10, (1,), seed=seed)
        for i in range(25):
            b.add([i], 0, i, [i], False)
        return b
    assert np.array_equal(fill(1).sample(8)["index"], fill(1).sample(8)["index"])
    assert not np.array_equal(fill(1).sample(32)["index"], fill(2).sample(32)["index"])
    assert set(fill(1).sample(200)["reward"].astype(int)) == set(range(15, 25))   # the 10 newest


def test_sum_tree_prefix_search():
    t = SumTree(5)
    t.update([0, 1, 2, 3, 4], [1, 0, 2, 3, 0.5])
    assert t.total == 6.5
    assert t.find([0, 0.999, 1.0, 2.999, 3.0, 5.999, 6.0, 6.49]).tolist() == [0, 0, 2, 2, 3, 3, 4, 4]
    t.update([2, 2], [0, 4])                # a repeated index keeps its last value
    assert t.total == 8.5 and t[2] == 4
    with pytest.raises(CertnnError, match="finite and >= 0"):
        t.update([0], [-1])


def test_prioritized_sampling_follows_priorities_and_weights_correct_it():
    b = PrioritizedReplayBuffer(4, (1,), alpha=1.0, eps=0.0, seed=0)
    for i in range(4):
        b.add([i], 0, i, [i], False)
    b.update_priorities([0, 1, 2, 3], [1, 1, 2, 4])
    s = b.sample(8000)
    freq = np.bincount(s["index"], minlength=4) / 8000
    assert np.allclose(freq, [1 / 8, 1 / 8, 2 / 8, 4 / 8], atol=0.02)
    w = dict(zip(s["index"].tolist(), s["weight"].tolist()))
    assert w[0] == pytest.approx(1.0) and w[3] == pytest.approx(0.25 ** 0.4)   # (N P)^-beta / max


def test_empty_buffer_and_bad_capacity():
    with pytest.raises(CertnnError, match="empty"):
        ReplayBuffer(3, (1,)).sample(1)
    with pytest.raises(CertnnError, match="capacity"):
        ReplayBuffer(0, (1,))
