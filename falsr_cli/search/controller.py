"""The RL half of the hybrid controller: an LSTM policy over genomes, trained with REINFORCE.

The policy emits the n cells one after another: at step i the LSTM reads the embedding of the cell sampled
at step i−1 (a learned start token at i = 0) and a dense layer gives the softmax over the 192 cells of S.
The n cell embeddings, concatenated, go through a fully connected layer (tanh) to n(n+1)/2 sigmoid outputs,
one Bernoulli per connection bit. log π(genome) is the sum of the n categorical and the n(n+1)/2 Bernoulli
log-probabilities.

Training is REINFORCE with γ = 1 (one reward per genome, at the end) and a moving-average baseline b:
loss = −mean((R − b) · log π), one Adam step per generation on that generation's proposals, then
b ← decay · b + (1 − decay) · mean(R) (b starts at the first batch's mean reward). The reward is made by
the runner (see `runner.reward`): the candidate's PSNR, lowered for every constraint it breaks.

Sampling draws from the policy's probabilities with a numpy Generator handed in by the caller (the search's
generator), so that a restored search samples the same proposals as the uninterrupted one. `get_state` /
`set_state` carry the weights, the optimizer's moments and the baseline as numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from falsr_cli.atomic import atomic_path
from falsr_cli.space.architecture import num_bits
from falsr_cli.space.cells import DEFAULT_SPACE, space_cells


class Controller:
    """LSTM policy over n cells + n(n+1)/2 connection bits, with REINFORCE updates.

    Plain TensorFlow variables and eager ops: the network is tiny, and eager runs it in milliseconds while
    tracing Keras layers into graphs would cost seconds per controller.
    """

    def __init__(self, n: int, *, hidden: int = 64, embed: int = 32, lr: float = 0.02,
                 baseline_decay: float = 0.9, seed: int = 0, space: str = DEFAULT_SPACE):
        import tensorflow as tf

        self.tf = tf
        self.n = n
        self.n_cells = n_cells = len(space_cells(space))
        self.n_bits = num_bits(n)
        self.hidden = hidden
        self.embed = embed
        self.baseline_decay = baseline_decay
        self.baseline: float | None = None
        self.updates = 0
        rng = np.random.default_rng([seed, 1901])

        def var(name: str, shape: tuple[int, ...], scale: float = 0.1):
            init = np.zeros(shape) if scale == 0 else rng.uniform(-scale, scale, size=shape)
            return tf.Variable(init.astype(np.float32), name=name)

        self.variables = [
            var("embedding", (n_cells + 1, embed)),  # row n_cells is the start token
            var("lstm_kernel", (embed + hidden, 4 * hidden)),  # gates i, f, g, o
            var("lstm_bias", (4 * hidden,), 0),
            var("cell_kernel", (hidden, n_cells)),
            var("cell_bias", (n_cells,), 0),
            var("fc_kernel", (n * embed, hidden)),
            var("fc_bias", (hidden,), 0),
            var("bit_kernel", (hidden, self.n_bits)),
            var("bit_bias", (self.n_bits,), 0),
        ]
        # The usual LSTM trick: a forget-gate bias of 1 keeps the memory at the start.
        forget = np.r_[np.zeros(hidden), np.ones(hidden), np.zeros(2 * hidden)]
        self.variables[2].assign(forget.astype(np.float32))
        self.optimizer = NumpyAdam(lr, [tuple(v.shape) for v in self.variables])

    @property
    def trainable_variables(self) -> list:
        return list(self.variables)

    # ---- the policy --------------------------------------------------------------------------------

    def _embed(self, cells):
        return self.tf.gather(self.variables[0], cells)

    def _step(self, x, h, c):
        """One LSTM step; returns the cell logits and the new state."""
        tf = self.tf
        _, kernel, bias, cell_kernel, cell_bias = self.variables[:5]
        gates = tf.matmul(tf.concat([x, h], axis=1), kernel) + bias
        i, f, g, o = tf.split(gates, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return tf.matmul(h, cell_kernel) + cell_bias, h, c

    def _bit_logits(self, embeds: list):
        tf = self.tf
        fc_kernel, fc_bias, bit_kernel, bit_bias = self.variables[5:]
        hidden = tf.tanh(tf.matmul(tf.concat(embeds, axis=1), fc_kernel) + fc_bias)
        return tf.matmul(hidden, bit_kernel) + bit_bias

    def _start(self, batch: int):
        tf = self.tf
        x = self._embed(tf.fill([batch], self.n_cells))
        return x, tf.zeros([batch, self.hidden]), tf.zeros([batch, self.hidden])

    def _log_prob(self, genomes: np.ndarray):
        tf = self.tf
        g = np.asarray(genomes, dtype=np.int64)
        cells, bits = g[:, : self.n], g[:, self.n:].astype(np.float32)
        x, h, c = self._start(len(g))
        total = tf.zeros([len(g)])
        embeds = []
        for i in range(self.n):
            logits, h, c = self._step(x, h, c)
            total += tf.gather(tf.nn.log_softmax(logits), cells[:, i], batch_dims=1)
            x = self._embed(cells[:, i])
            embeds.append(x)
        nll_bits = tf.nn.sigmoid_cross_entropy_with_logits(labels=bits, logits=self._bit_logits(embeds))
        return total - tf.reduce_sum(nll_bits, axis=1)

    def _roll(self, count: int, prefix: np.ndarray | None, rng: np.random.Generator | None):
        # Run the LSTM over the cells: given ones (prefix) are fed, the rest are drawn with rng.
        x, h, c = self._start(count)
        cells = np.zeros((count, self.n), dtype=np.int64)
        embeds, probs = [], []
        for i in range(self.n):
            logits, h, c = self._step(x, h, c)
            p = _softmax(logits.numpy().astype(np.float64))
            probs.append(p)
            if prefix is not None and i < prefix.shape[1]:
                cells[:, i] = prefix[:, i]
            elif rng is not None:
                cells[:, i] = _draw(p, rng)
            else:
                break
            x = self._embed(cells[:, i])
            embeds.append(x)
        return cells, embeds, probs

    def sample(self, rng: np.random.Generator, count: int = 1) -> np.ndarray:
        """`count` genomes drawn from the policy with `rng`."""
        cells, embeds, _ = self._roll(count, None, rng)
        q = 1.0 / (1.0 + np.exp(-self._bit_logits(embeds).numpy().astype(np.float64)))
        bits = (rng.random(q.shape) < q).astype(np.int64)
        return np.concatenate([cells, bits], axis=1).astype(int)

    def cell_probabilities(self, prefix: tuple[int, ...] = ()) -> np.ndarray:
        """The policy's distribution over S for cell len(prefix), given the cells before it."""
        _, _, probs = self._roll(1, np.array([prefix], dtype=np.int64).reshape(1, len(prefix)), None)
        return probs[len(prefix)][0]

    # ---- learning ----------------------------------------------------------------------------------

    def update(self, genomes: np.ndarray, rewards: np.ndarray) -> dict[str, float]:
        """One REINFORCE step on a batch of (genome, reward); returns loss, baseline and mean reward."""
        tf = self.tf
        rewards = np.asarray(rewards, dtype=np.float64)
        if len(rewards) == 0:
            return {"loss": 0.0, "baseline": self.baseline or 0.0, "reward": 0.0}
        if self.baseline is None:
            self.baseline = float(rewards.mean())
        advantage = tf.constant((rewards - self.baseline).astype(np.float32))
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(advantage * self._log_prob(genomes))
        grads = tape.gradient(loss, self.variables)
        # The embedding's gradient comes as IndexedSlices.
        self.optimizer.apply(self.variables, [tf.convert_to_tensor(g).numpy() for g in grads])
        decay = self.baseline_decay
        self.baseline = decay * self.baseline + (1 - decay) * float(rewards.mean())
        self.updates += 1
        return {"loss": float(loss), "baseline": float(self.baseline), "reward": float(rewards.mean())}

    # ---- state ---------------------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        return {
            "weights": [v.numpy() for v in self.trainable_variables],
            "optimizer": self.optimizer.get_state(),
            "baseline": self.baseline,
            "updates": self.updates,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        for var, value in zip(self.trainable_variables, state["weights"], strict=True):
            var.assign(value)
        self.optimizer.set_state(state["optimizer"])
        self.baseline = state["baseline"]
        self.updates = int(state["updates"])

    def save(self, path) -> None:
        """Weights and optimizer moments as one .npz (atomic), baseline and update count inside."""
        s = self.get_state()
        arrays = {f"w{i}": a for i, a in enumerate(s["weights"])}
        arrays |= {f"o{i}": a for i, a in enumerate(s["optimizer"])}
        arrays["baseline"] = np.array(np.nan if s["baseline"] is None else s["baseline"])
        arrays["updates"] = np.array(s["updates"])
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)

    def load(self, path) -> None:
        with np.load(path) as z:
            nw = sum(1 for k in z.files if k.startswith("w"))
            no = sum(1 for k in z.files if k.startswith("o"))
            baseline = float(z["baseline"])
            self.set_state({
                "weights": [z[f"w{i}"] for i in range(nw)],
                "optimizer": [z[f"o{i}"] for i in range(no)],
                "baseline": None if np.isnan(baseline) else baseline,
                "updates": int(z["updates"]),
            })


class NumpyAdam:
    """Adam (Kingma & Ba) on the policy's variables; its moments are numpy arrays, saved with the search."""

    def __init__(self, lr: float, shapes: list, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m = [np.zeros(tuple(s), np.float32) for s in shapes]
        self.v = [np.zeros(tuple(s), np.float32) for s in shapes]

    def apply(self, variables: list, grads: list[np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for var, g, m, v in zip(variables, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            var.assign(var.numpy() - (step * m / (np.sqrt(v) + self.eps)).astype(np.float32))

    def get_state(self) -> list[np.ndarray]:
        return [np.array(self.t, np.int64), *self.m, *self.v]

    def set_state(self, state: list[np.ndarray]) -> None:
        k = len(self.m)
        if len(state) != 1 + 2 * k:
            raise ValueError(f"optimizer state has {len(state)} arrays, expected {1 + 2 * k}")
        self.t = int(state[0])
        self.m = [np.array(a, np.float32) for a in state[1: 1 + k]]
        self.v = [np.array(a, np.float32) for a in state[1 + k:]]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _draw(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of p, by the inverse CDF."""
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), p.shape[1] - 1)
