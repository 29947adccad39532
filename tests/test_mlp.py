"""cgan._cgan.MLP against the float64 NumPy reference MLP.

Tolerances: a layer is a float32 dense product (error <= (k + 2) u |X| |W|
with u = 2**-24, k <= 100 here, i.e. <= 6e-6 relative to the magnitudes)
followed by an activation with Lipschitz constant <= max(1, alpha) that adds
a few u.  Over <= 4 layers with Xavier-scaled weights (|W| rows of norm ~1)
errors grow by at most a small constant per layer, so rtol = 1e-4 with an
absolute term 1e-4 * max|reference| (for entries near zero, whose error is set
by the magnitude of the terms that cancelled into them) holds with margin
while any wrong index, layout or derivative gives O(1) relative errors.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

from cgan import _cgan as C  # noqa: E402

CONFIGS = {
    "depth1-identity": ([3, 1], ["identity"], None),
    "depth1-wide": ([5, 130], ["tanh"], None),
    "depth2": ([5, 8, 2], ["relu", "sigmoid"], None),
    "depth3": ([4, 16, 7, 3], ["tanh", "leaky_relu", "elu"], None),
    "depth3-params": ([4, 10, 10, 2], ["leaky_relu", "elu", "sigmoid"], [0.05, 0.3, 1.0]),
    "depth4-wide": ([6, 100, 33, 9, 1], ["elu", "relu", "tanh", "identity"], None),
}


def _make(name, seed=0, dropout=None):
    sizes, acts, aps = CONFIGS[name]
    return C.MLP(sizes, acts, seed, activation_params=aps, dropout=dropout), sizes, acts, aps


def _close(actual, expect, rtol=1e-4):
    expect = np.asarray(expect, np.float64)
    scale = max(float(np.max(np.abs(expect))), 1e-30)
    np.testing.assert_allclose(actual, expect, rtol=rtol, atol=rtol * scale)


def _data(rng, n, k, scale=1.0):
    return (rng.standard_normal((n, k)) * scale).astype(np.float32)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_n_params_and_layout(name):
    m, sizes, acts, aps = _make(name)
    assert m.n_params == ref.mlp_n_params(sizes)
    p = m.get_params()
    assert p.dtype == np.float32 and p.shape == (m.n_params,)
    # Xavier-uniform weights within the bound, zero biases
    for l, (W, b) in enumerate(ref.mlp_unpack(p, sizes)):
        bound = np.sqrt(6.0 / (sizes[l] + sizes[l + 1]))
        assert np.all(np.abs(W) <= bound * (1 + 1e-6))
        assert np.all(b == 0)
        if W.size > 10:
            assert np.std(W) > bound / 4   # actually random, not a constant
    assert m.get_grads().shape == (m.n_params,)
    assert not m.get_grads().any()


@pytest.mark.parametrize("n", [1, 17, 300])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_forward_matches_reference(name, n):
    m, sizes, acts, aps = _make(name, seed=3)
    # nonzero biases so that the bias half of each layer's block is exercised
    p = m.get_params().astype(np.float64)
    p += np.random.default_rng(1).normal(size=p.size) * 0.1
    m.set_params(p)
    X = _data(np.random.default_rng([2, n]), n, sizes[0])
    out = m.forward(X)
    assert out.dtype == np.float32 and out.shape == (n, sizes[-1])
    expect, _ = ref.mlp_forward(m.get_params(), sizes, acts, X, act_params=aps)
    _close(out, expect)
    # train=True without dropout is the same computation
    np.testing.assert_array_equal(m.forward(X, train=True), out)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_backward_matches_reference(name):
    m, sizes, acts, aps = _make(name, seed=4)
    rng = np.random.default_rng(5)
    p = m.get_params().astype(np.float64) + rng.normal(size=m.n_params) * 0.1
    m.set_params(p)
    X = _data(rng, 23, sizes[0])
    dY = _data(rng, 23, sizes[-1])
    m.forward(X)
    dX = m.backward(dY)
    assert dX.dtype == np.float32 and dX.shape == X.shape
    _, cache = ref.mlp_forward(m.get_params(), sizes, acts, X, act_params=aps)
    rdX, rgrads = ref.mlp_backward(m.get_params(), sizes, acts, cache, dY, act_params=aps)
    _close(dX, rdX)
    g = m.get_grads()
    # compare layer by layer so that a swapped W/b block would show
    for (gW, gb), (rW, rb) in zip(ref.mlp_unpack(g, sizes), ref.mlp_unpack(rgrads, sizes)):
        _close(gW, rW)
        _close(gb, rb)


def test_gradients_accumulate_and_zero_grad_resets():
    m, sizes, acts, aps = _make("depth3", seed=6)
    rng = np.random.default_rng(7)
    X = _data(rng, 9, sizes[0])
    dY1, dY2 = _data(rng, 9, sizes[-1]), _data(rng, 9, sizes[-1])
    m.forward(X)
    dXa = m.backward(dY1)
    g1 = m.get_grads()
    assert np.any(g1 != 0)
    dXb = m.backward(dY1)
    # the same contribution added twice (n = 9 < one K panel: g + g is exact)
    np.testing.assert_array_equal(m.get_grads(), 2 * g1)
    # dX is returned fresh each call, never accumulated
    np.testing.assert_array_equal(dXa, dXb)
    m.zero_grad()
    g0 = m.get_grads()
    assert g0.shape == g1.shape and not g0.any()
    m.backward(dY1)
    m.backward(dY2)
    g12 = m.get_grads()
    m.zero_grad()
    m.backward(dY1 + dY2)
    # linear in dY: g(dY1) + g(dY2) = g(dY1 + dY2) up to float32 rounding
    _close(g12, m.get_grads(), rtol=1e-5)
    # get_grads returns a copy
    g = m.get_grads()
    g[:] = 123
    assert not np.any(m.get_grads() == 123)


def test_set_params_round_trips():
    m, sizes, acts, aps = _make("depth4-wide", seed=8)
    rng = np.random.default_rng(9)
    p32 = rng.normal(size=m.n_params).astype(np.float32)
    assert m.set_params(p32) is None
    np.testing.assert_array_equal(m.get_params(), p32)
    p64 = rng.normal(size=m.n_params)
    m.set_params(p64)
    np.testing.assert_array_equal(m.get_params(), p64.astype(np.float32))
    m.set_params(p64.tolist())
    np.testing.assert_array_equal(m.get_params(), p64.astype(np.float32))
    # get_params returns a copy; the block only changes through set_params
    q = m.get_params()
    q[:] = 0
    np.testing.assert_array_equal(m.get_params(), p64.astype(np.float32))
    # the forward pass uses the new parameters
    X = _data(rng, 5, sizes[0])
    _close(m.forward(X), ref.mlp_forward(p64.astype(np.float32), sizes, acts, X)[0])
    # a second network takes the block over exactly
    m2, *_ = _make("depth4-wide", seed=99)
    m2.set_params(m.get_params())
    np.testing.assert_array_equal(m2.forward(X), m.forward(X))


def test_forward_after_cache_regrowth():
    # the activation cache grows with the batch; shrinking back must still be right
    m, sizes, acts, aps = _make("depth3", seed=10)
    rng = np.random.default_rng(11)
    for n in (1, 300, 2, 1000, 7):
        X = _data(rng, n, sizes[0])
        dY = _data(rng, n, sizes[-1])
        out = m.forward(X)
        m.zero_grad()
        dX = m.backward(dY)
        expect, cache = ref.mlp_forward(m.get_params(), sizes, acts, X)
        rdX, rg = ref.mlp_backward(m.get_params(), sizes, acts, cache, dY)
        _close(out, expect)
        _close(dX, rdX)
        _close(m.get_grads(), rg)


def test_backward_uses_the_input_of_its_forward():
    # The caller's array may be changed between forward and backward (a
    # training loop refilling one batch buffer).  dW of the first layer must
    # still be X^T dZ for the X that went through forward, whatever its dtype.
    rng = np.random.default_rng(12)
    X = _data(rng, 8, 4)
    dY = _data(rng, 8, 3)
    grads = {}
    for dtype in (np.float64, np.float32):
        m, *_ = _make("depth3", seed=13)
        buf = X.astype(dtype)
        m.forward(buf)
        buf[:] = 0
        m.backward(dY)
        grads[np.dtype(dtype).name] = m.get_grads()
    m, *_ = _make("depth3", seed=13)
    m.forward(X.copy())
    m.backward(dY)
    expect = m.get_grads()
    np.testing.assert_array_equal(grads["float64"], expect)
    np.testing.assert_array_equal(grads["float32"], expect)


def test_backward_through_dropout_by_finite_differences():
    """Same seed -> same dropout masks on the first train forward, so the
    masked network is a fixed smooth function of the parameters: compare
    backward with a directional central difference of the extension's own
    float32 forward.  h = 1e-2 along a unit-scale direction: truncation
    ~h^2 ~ 1e-4 relative, float32 rounding of the outputs ~1e-6 |L| / h
    ~ 1e-4; rtol 2e-3 of the magnitude covers both."""
    sizes, acts = [4, 12, 12, 3], ["tanh", "sigmoid", "identity"]
    dropout = [0.5, 0.3, 0.0]
    rng = np.random.default_rng(14)
    X = _data(rng, 10, 4)
    R = _data(rng, 10, 3).astype(np.float64)

    def fresh():
        return C.MLP(sizes, acts, 21, dropout=dropout)

    m = fresh()
    p = m.get_params().astype(np.float64)
    out = m.forward(X, train=True)
    assert not np.array_equal(out, m.forward(X, train=False))
    m = fresh()
    m.forward(X, train=True)
    dX = m.backward(R.astype(np.float32))
    g = m.get_grads().astype(np.float64)

    def L(params, x=X):
        n = fresh()
        n.set_params(params)
        return float(np.sum(R * n.forward(x, train=True)))

    h = 1e-2
    for _ in range(3):
        d = rng.normal(size=p.size)
        pp, pm = (p + h * d).astype(np.float32), (p - h * d).astype(np.float32)
        delta = pp.astype(np.float64) - pm
        fd = L(pp) - L(pm)
        an = float(g @ delta)
        assert abs(fd - an) <= 2e-3 * float(np.abs(g) @ np.abs(delta)) + 1e-6, (fd, an)
    D = rng.normal(size=X.shape)
    xp, xm = (X + h * D).astype(np.float32), (X - h * D).astype(np.float32)
    delta = xp.astype(np.float64) - xm
    fd = L(p.astype(np.float32), xp) - L(p.astype(np.float32), xm)
    an = float(np.sum(dX * delta))
    assert abs(fd - an) <= 2e-3 * float(np.sum(np.abs(dX * delta))) + 1e-6, (fd, an)


def test_dropout_train_differs_and_eval_is_deterministic():
    sizes, acts = [5, 64, 64, 2], ["relu", "relu", "identity"]
    m = C.MLP(sizes, acts, 15, dropout=[0.5, 0.5, 0.0])
    X = _data(np.random.default_rng(16), 20, 5)
    e1 = m.forward(X)
    t1 = m.forward(X, train=True)
    e2 = m.forward(X, train=False)
    t2 = m.forward(X, train=True)
    assert not np.array_equal(t1, e1)
    assert not np.array_equal(t1, t2)          # fresh masks each call
    assert e1.tobytes() == e2.tobytes()         # eval never draws
    # eval ignores dropout entirely: it equals the reference without masks
    _close(e1, ref.mlp_forward(m.get_params(), sizes, acts, X)[0])
    # a network without dropout gives the same eval output
    m0 = C.MLP(sizes, acts, 15)
    assert m0.get_params().tobytes() == m.get_params().tobytes()
    np.testing.assert_array_equal(m0.forward(X), e1)


def _toy_regression(n=256, seed=17):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:] ** 2 - 0.3 * X[:, :1] * X[:, 1:]
    return X.astype(np.float32), Y.astype(np.float32)


def test_fit_mse_reduces_loss():
    X, Y = _toy_regression()
    m = C.MLP([2, 32, 32, 1], ["tanh", "tanh", "identity"], 0)
    before = float(np.mean((m.forward(X) - Y) ** 2))
    losses = m.fit_mse(X, Y, 64, 600, learning_rate=1e-2)
    assert losses.dtype == np.float64 and losses.shape == (600,)
    assert np.all(np.isfinite(losses)) and np.all(losses >= 0)
    after = float(np.mean((m.forward(X) - Y) ** 2))
    assert after < before / 5, (before, after)
    assert losses[-50:].mean() < losses[:50].mean() / 5
    # the reported minibatch loss is the MSE the network had on that batch:
    # its first value is of the order of the initial full-data loss
    assert losses[0] == pytest.approx(before, rel=1.0)


def test_fit_mse_zero_iterations_changes_nothing():
    X, Y = _toy_regression(n=32)
    m = C.MLP([2, 8, 1], ["tanh", "identity"], 1)
    p = m.get_params()
    losses = m.fit_mse(X, Y, 8, 0)
    assert losses.shape == (0,)
    assert m.get_params().tobytes() == p.tobytes()


@pytest.mark.parametrize("dropout", [None, [0.2, 0.0]], ids=["no-dropout", "dropout"])
def test_fit_mse_determinism(dropout):
    X, Y = _toy_regression(n=100)
    sizes, acts = [2, 16, 1], ["elu", "identity"]

    def run(seed):
        m = C.MLP(sizes, acts, seed, dropout=dropout)
        p0 = m.get_params()
        losses = m.fit_mse(X, Y, 10, 50, learning_rate=1e-2, weight_decay=1e-3)
        return p0, losses, m.get_params(), m.forward(X), m.forward(X, train=True)

    a, b, c = run(123), run(123), run(124)
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[2], c[2])
    assert not np.array_equal(a[3], c[3])
    assert not np.array_equal(a[2], a[0])   # training moved the parameters


def test_fit_mse_honours_learning_rate_on_later_calls():
    # a second fit_mse call with another learning_rate must use it
    X, Y = _toy_regression(n=64)
    results = []
    for lr in (1e-3, 5e-2):
        m = C.MLP([2, 8, 1], ["tanh", "identity"], 2)
        m.fit_mse(X, Y, 16, 5, learning_rate=1e-3)
        m.fit_mse(X, Y, 16, 20, learning_rate=lr)
        results.append(m.get_params())
    assert not np.array_equal(results[0], results[1])


def test_fit_mse_then_backward_needs_forward():
    X, Y = _toy_regression(n=16)
    m = C.MLP([2, 4, 1], ["relu", "identity"], 3)
    m.forward(X)
    m.fit_mse(X, Y, 4, 3)
    with pytest.raises(RuntimeError, match="forward"):
        m.backward(np.ones((16, 1)))
    m.forward(X)
    assert m.backward(np.ones((16, 1))).shape == (16, 2)


def test_fit_mse_with_weight_decay_shrinks_weights():
    # with a zero target and a large decoupled decay every weight shrinks
    X = _data(np.random.default_rng(18), 64, 3)
    Y = np.zeros((64, 1), np.float32)
    m = C.MLP([3, 8, 1], ["identity", "identity"], 4)
    n0 = np.linalg.norm(m.get_params())
    m.fit_mse(X, Y, 16, 50, learning_rate=1e-2, weight_decay=10.0)
    assert np.linalg.norm(m.get_params()) < n0 / 2


@pytest.mark.parametrize("decoupled", [True, False], ids=["adamw", "l2"])
def test_fit_mse_weight_decay_modes_match_reference(decoupled):
    # every row is the same, so each minibatch's gradient is the full-data
    # one whatever rows are drawn, and the fit can be replayed in NumPy:
    # decoupled=True is AdamW, decoupled=False adds weight_decay * params to
    # the gradient (torch.optim.Adam's weight_decay)
    x = np.array([0.5, -1.0, 2.0])
    X = np.tile(x, (16, 1)).astype(np.float32)
    Y = np.full((16, 1), 0.7, np.float32)
    m = C.MLP([3, 1], ["identity"], 11)
    p = m.get_params().astype(np.float64)
    lr, wd, steps = 1e-2, 0.5, 25
    m.fit_mse(X, Y, 4, steps, learning_rate=lr, weight_decay=wd, decoupled=decoupled)
    mom, var = np.zeros_like(p), np.zeros_like(p)
    for t in range(1, steps + 1):
        resid = p[:3] @ x + p[3] - 0.7
        g = 2 * resid * np.append(x, 1.0)
        if decoupled:
            p *= 1 - lr * wd
        else:
            g = g + wd * p
        mom = 0.9 * mom + 0.1 * g
        var = 0.999 * var + 0.001 * g * g
        p -= lr / (1 - 0.9 ** t) * mom / (np.sqrt(var) / np.sqrt(1 - 0.999 ** t) + 1e-8)
    np.testing.assert_allclose(m.get_params(), p, rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match="decoupled must be a bool"):
        m.fit_mse(X, Y, 4, 1, decoupled="no")
    m.fit_mse(X, Y, 4, 1, decoupled=np.bool_(decoupled))


def test_mlp_reinit_resets_state():
    m = C.MLP([2, 3], ["tanh"], 5)
    p5 = m.get_params()
    m.forward(np.ones((4, 2)))
    m.__init__([2, 6, 1], ["relu", "identity"], 5)
    assert m.n_params == ref.mlp_n_params([2, 6, 1])
    with pytest.raises(RuntimeError, match="forward"):
        m.backward(np.ones((4, 1)))
    m.__init__([2, 3], ["tanh"], 5)
    assert m.get_params().tobytes() == p5.tobytes()


_CRASH_SCRIPT = r"""
import resource, numpy as np
from cgan import _cgan as C
m = C.MLP([1, 4096, 1], ["relu", "identity"], 0)
m.forward(np.ones((2, 1), np.float32))
with open("/proc/self/status") as f:
    vm = int([l for l in f if l.startswith("VmSize")][0].split()[1]) * 1024
# cap the address space so that a 2 GiB activation cache cannot be allocated
resource.setrlimit(resource.RLIMIT_AS, (vm + (256 << 20), resource.RLIM_INFINITY))
try:
    m.forward(np.zeros((1 << 17, 1), np.float32))
    print("forward ok", flush=True)
except MemoryError:
    print("MemoryError", flush=True)
try:
    m.backward(np.ones((2, 1), np.float32))
    print("backward returned", flush=True)
except (RuntimeError, ValueError) as e:
    print("backward raised", type(e).__name__, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses RLIMIT_AS and /proc")
def test_backward_after_a_failed_forward_does_not_crash():
    # A forward that fails with MemoryError while growing the activation cache
    # must leave the network usable: backward may raise, but must not crash.
    r = subprocess.run([sys.executable, "-c", _CRASH_SCRIPT], capture_output=True, text=True, timeout=120)
    if "forward ok" in r.stdout:
        pytest.skip("the large forward did not run out of memory here; nothing to check")
    assert "MemoryError" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert r.returncode == 0, f"interpreter died with code {r.returncode}: {r.stdout} {r.stderr}"
    assert "backward" in r.stdout
