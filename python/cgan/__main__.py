"""python -m cgan: a smoke run of the C core on a bundled toy problem."""
import numpy as np

from . import _cgan


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = np.sin(X[:, :1]) + 0.5 * X[:, 1:2] ** 2 + 0.1 * rng.normal(size=(2000, 1))
    net = _cgan.MLP([5, 64, 64, 1], ["elu", "elu", "identity"], seed=0)
    losses = net.fit_mse(X, y, batch_size=64, n_iter=3000, learning_rate=3e-3)
    for start in range(0, 3000, 500):
        print(f"iterations {start:5d}-{start + 499:5d}: mean minibatch MSE {losses[start:start + 500].mean():.4f}")


if __name__ == "__main__":
    main()
