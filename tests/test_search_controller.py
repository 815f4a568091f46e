"""The RL controller: it learns from rewards, samples deterministically, and its state round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from falsr_cli.space.architecture import num_bits


@pytest.fixture(scope="module")
def Controller():
    from falsr_cli.search.controller import Controller

    return Controller


def test_a_few_reinforce_updates_raise_the_probability_of_a_rewarded_cell(Controller):
    n, target = 3, 37
    c = Controller(n, hidden=16, embed=8, lr=0.05, seed=0)
    rng = np.random.default_rng(0)
    before = c.cell_probabilities()[target]
    assert before == pytest.approx(1 / 192, rel=0.3)  # near uniform at the start
    for _ in range(8):
        g = c.sample(rng, 12)
        g[:6, 0] = target  # half the batch starts with the rewarded cell…
        reward = (g[:, 0] == target).astype(float)  # …and only those are rewarded
        c.update(g, reward)
    after = c.cell_probabilities()[target]
    assert after > 3 * before
    # The bits are learned too: reward the first bit being on.
    p_before = _bit_rate(c, rng)
    for _ in range(6):
        g = c.sample(rng, 16)
        c.update(g, g[:, n].astype(float))
    assert _bit_rate(c, rng) > p_before + 0.15


def _bit_rate(c, rng) -> float:
    return float(c.sample(rng, 400)[:, c.n].mean())


def test_sampling_is_deterministic_and_state_round_trips(Controller, tmp_path):
    a = Controller(3, hidden=16, embed=8, seed=1)
    b = Controller(3, hidden=16, embed=8, seed=2)
    assert not np.array_equal(b.cell_probabilities(), a.cell_probabilities())
    g = a.sample(np.random.default_rng(5), 4)
    assert g.shape == (4, 3 + num_bits(3)) and (g[:, :3] < 192).all() and set(np.unique(g[:, 3:])) <= {0, 1}
    assert (a.sample(np.random.default_rng(5), 4) == g).all()
    a.update(g, np.array([1.0, 0.0, 2.0, 0.5]))
    a.save(tmp_path / "c.npz")
    b.load(tmp_path / "c.npz")
    assert b.baseline == a.baseline and b.updates == 1
    assert np.array_equal(b.cell_probabilities((4, 9)), a.cell_probabilities((4, 9)))
    # The optimizer's moments came along (the next update moves both the same way).
    sa, sb = a.optimizer.get_state(), b.optimizer.get_state()
    assert int(sb[0]) == 1 and all(np.array_equal(x, y) for x, y in zip(sa, sb, strict=True))
    assert any(np.abs(m).sum() > 0 for m in sb[1:])
