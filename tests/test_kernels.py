"""The float32 kernels of cgan._cgan against the float64 NumPy reference.

Tolerances (u = 2**-24 ~ 6e-8 is float32's unit roundoff):
  * A dot product of length k computed in float32, in any order and with or
    without FMA, has error <= gamma_k * sum|a_i b_i| with gamma_k ~ k u
    (Higham, Accuracy and Stability, Th. 3.5); rounding the result costs one
    more u.  The typical error is ~sqrt(k) u, so the worst-case bound
    (k + 2) u * (|X| @ |W| + |b|) is never flaky, yet any indexing/blocking bug
    (a dropped K panel, a wrong tile, a missing bias) produces errors of the
    order of |X| @ |W| itself and is caught.
  * Elementwise kernels compute in double and round once (or twice) to
    float32: a relative tolerance of a few u, plus an absolute term where the
    float32 formula subtracts nearly equal numbers (1 - y^2, y (1 - y), y + a).
  * Losses are summed in double from float32 inputs and returned as Python
    floats, so they match the reference (fed the same float32-rounded inputs)
    to ~1e-12 relative; their gradients are rounded once to float32.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

from cgan import _cgan as C  # noqa: E402

U = 2.0 ** -24          # float32 unit roundoff
TINY = float(np.finfo(np.float32).tiny)


def r32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _seed(*parts):
    return np.random.default_rng(list(parts))


# ------------------------------------------------------------------ dense

DENSE_SHAPES = [
    (1, 1, 1),
    (1, 7, 1),
    (7, 13, 5),
    (7, 13, 11),
    (6, 16, 16),       # exactly one micro-tile
    (12, 32, 96),      # exactly one NC block
    (33, 300, 17),     # k > 256: two K panels
    (5, 257, 97),      # k = KC + 1, width = NC + 1
    (13, 64, 200),     # width > 96: three column blocks
    (300, 20, 100),    # n > 256 rows (a K loop in dW = X^T dY)
    (50, 513, 130),
]


def _dense_bound(X, W, b=None):
    k = X.shape[1]
    mag = np.abs(X.astype(np.float64)) @ np.abs(W.astype(np.float64))
    if b is not None:
        mag = mag + np.abs(b.astype(np.float64))
    return (k + 2) * U * mag + TINY


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("n,k,m", DENSE_SHAPES, ids=[f"{a}x{b}x{c}" for a, b, c in DENSE_SHAPES])
def test_dense_forward_matches_reference(n, k, m, bias):
    rng = _seed(1, n, k, m)
    X, W = r32(rng, n, k), r32(rng, k, m)
    b = r32(rng, m) if bias else None
    Y = C.dense_forward(X, W, b)
    assert Y.dtype == np.float32 and Y.shape == (n, m) and Y.flags.c_contiguous
    err = np.abs(Y - ref.dense_forward(X, W, b))
    assert np.all(err <= _dense_bound(X, W, b)), err.max()


@pytest.mark.parametrize("n,k,m", DENSE_SHAPES, ids=[f"{a}x{b}x{c}" for a, b, c in DENSE_SHAPES])
def test_dense_backward_matches_reference(n, k, m):
    rng = _seed(2, n, k, m)
    X, W, dY = r32(rng, n, k), r32(rng, k, m), r32(rng, n, m)
    dX, dW, db = C.dense_backward(dY, X, W)
    assert (dX.shape, dW.shape, db.shape) == ((n, k), (k, m), (m,))
    assert dX.dtype == dW.dtype == db.dtype == np.float32
    rdX, rdW, rdb = ref.dense_backward(dY, X, W)
    # dX = dY W^T: dot products of length m; dW = X^T dY: length n; db: length n
    assert np.all(np.abs(dX - rdX) <= _dense_bound(dY, W.T))
    assert np.all(np.abs(dW - rdW) <= _dense_bound(X.T, dY))
    assert np.all(np.abs(db - rdb) <= _dense_bound(np.ones((1, n), np.float32), dY)[0])


def test_dense_forward_special_values():
    # exact small-integer products: float32 must give the exact answer
    X = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    W = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    np.testing.assert_array_equal(C.dense_forward(X, W, [10, 20]), [[14, 25], [20, 31]])
    np.testing.assert_array_equal(C.dense_forward(X, np.zeros((3, 4))), np.zeros((2, 4)))


@pytest.mark.parametrize("n,k,m", [(1, 1, 1), (7, 13, 5), (9, 300, 101)])
def test_dense_gradients_by_finite_differences_through_extension(n, k, m):
    """S(X, W, b) = sum(R * dense_forward(X, W, b)) is linear in each argument,
    so its central difference along D equals <grad, D> up to rounding only:
    both sides are float32 dot products of length <= max(k, n) + 1, bounded
    by ~(k + n + 4) u times the magnitude sum(|R| |X| |W|) (see module doc);
    rtol 1e-4 of that magnitude covers it with margin (k + n + 4 <= 410)."""
    rng = _seed(3, n, k, m)
    X, W, b, R = r32(rng, n, k), r32(rng, k, m), r32(rng, m), r32(rng, n, m)
    dX, dW, db = C.dense_backward(R, X, W)

    def S(Xa, Wa, ba):
        return float(np.sum(R.astype(np.float64) * C.dense_forward(Xa, Wa, ba)))

    mag = float(np.abs(R).astype(np.float64).ravel() @ _dense_bound(X, W, b).ravel()) / ((k + 2) * U)
    h = 0.5
    for which in range(3):
        args = [X, W, b]
        D = r32(rng, *args[which].shape)
        plus, minus = list(args), list(args)
        plus[which] = (args[which] + h * D).astype(np.float32)
        minus[which] = (args[which] - h * D).astype(np.float32)
        delta = plus[which].astype(np.float64) - minus[which]
        fd = S(*plus) - S(*minus)
        analytic = float(np.sum([dX, dW, db][which] * delta))
        assert abs(fd - analytic) <= 1e-4 * mag * (1 + h), (which, fd, analytic)


# ------------------------------------------------------------ activations

ACTS = list(ref.ACTIVATIONS)
ACT_PARAMS = [None, 0.01, 0.5, 3.0]


def _act_input(rng, n):
    x = r32(rng, n, scale=3.0)
    specials = np.array([0.0, -0.0, 1e-30, -1e-30, 50.0, -50.0, 100.0, -100.0, 1e30, -1e30], np.float32)
    x[: min(n, specials.size)] = specials[: min(n, specials.size)]
    return x


@pytest.mark.parametrize("n", [1, 7, 1000])
@pytest.mark.parametrize("param", ACT_PARAMS, ids=lambda p: f"param={p}")
@pytest.mark.parametrize("act", ACTS)
def test_activation_forward_matches_reference(act, param, n):
    x = _act_input(_seed(4, n), n)
    y = C.activation_forward(x, act, param)
    assert y.dtype == np.float32 and y.shape == (n,)
    # computed in double, rounded to float32 once (twice for elu: expm1 then
    # times alpha): 4u relative; TINY absolute for results in the subnormal range
    np.testing.assert_allclose(y, ref.activation_forward(x, act, param), rtol=4 * U, atol=TINY)


@pytest.mark.parametrize("n", [1, 7, 1000])
@pytest.mark.parametrize("param", ACT_PARAMS, ids=lambda p: f"param={p}")
@pytest.mark.parametrize("act", ACTS)
def test_activation_backward_matches_reference(act, param, n):
    rng = _seed(5, n)
    x = _act_input(rng, n)
    dy = r32(rng, n)
    dx = C.activation_backward(dy, x, act, param)
    assert dx.dtype == np.float32 and dx.shape == (n,)
    a = ref.default_param(act) if param is None else param
    # the core forms f'(x) from y = f(x) in float32 (1 - y^2, y (1 - y), y + a):
    # y carries ~u |y| (<= u max(1, a)) error that the subtraction turns into an
    # absolute error, hence atol = 8 u max(1, a) |dy| besides rtol = 8u
    expect = ref.activation_backward(dy, x, act, param)
    atol = 8 * U * max(1.0, a) * np.abs(dy.astype(np.float64)) + TINY
    assert np.all(np.abs(dx - expect) <= atol + 8 * U * np.abs(expect)), act


@pytest.mark.parametrize("act", ACTS)
def test_activation_derivative_by_finite_differences_through_extension(act):
    """Elementwise central differences of the extension's own float32 forward:
    (f(x+h) - f(x-h)) / (x+ - x-) with h = 1e-2 (1 + |x|) has truncation error
    h^2 |f'''| / 6 <= 2e-5 (1+|x|)^2 and rounding error u |f| / h <= 1e-5 (1+|x|)
    for these f; 1e-3 covers both.  Points within 2h of a kink are skipped."""
    rng = _seed(6)
    x = r32(rng, 400, scale=2.0)
    h = 1e-2 * (1 + np.abs(x))
    if act in ("relu", "leaky_relu", "elu"):
        x = x[np.abs(x) > 2 * h]
        h = 1e-2 * (1 + np.abs(x))
    xp = (x + h).astype(np.float32)
    xm = (x - h).astype(np.float32)
    fd = (C.activation_forward(xp, act).astype(np.float64) - C.activation_forward(xm, act)) / (
        xp.astype(np.float64) - xm)
    analytic = C.activation_backward(np.ones_like(x), x, act)
    np.testing.assert_allclose(analytic, fd, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("act", ACTS)
def test_activation_defaults_are_documented_values(act):
    x = np.linspace(-3, 3, 61).astype(np.float32)
    np.testing.assert_array_equal(C.activation_forward(x, act), C.activation_forward(x, act, ref.default_param(act)))
    if act == "leaky_relu":
        assert C.activation_forward(np.array([-1.0]), act)[0] == np.float32(-0.2)
    if act == "elu":
        assert C.activation_forward(np.array([-1.0]), act)[0] == pytest.approx(np.expm1(-1.0), rel=4 * U)


# -------------------------------------------------------------- reference


@pytest.mark.parametrize("act", ACTS)
def test_reference_activation_derivative_by_float64_finite_differences(act):
    # float64 central differences with h = 1e-6: truncation ~h^2 and rounding
    # ~1e-16/h ~ 1e-10, so 1e-7 is ample.  Away from kinks only.
    x = np.random.default_rng(7).normal(size=50) * 3
    x = x[np.abs(x) > 1e-3]
    fd = ref.numerical_gradient(lambda v: float(np.sum(ref.activation_forward(v, act, 0.3))), x)
    np.testing.assert_allclose(ref.activation_derivative(x, act, 0.3), fd, rtol=1e-7, atol=1e-7)


def test_reference_loss_and_dense_gradients_by_float64_finite_differences():
    rng = np.random.default_rng(8)
    p, t, w = rng.normal(size=9), rng.uniform(size=9), rng.uniform(size=9)
    for f in (ref.mse_loss, ref.bce_logits_loss):
        fd = ref.numerical_gradient(lambda v: f(v, t, w)[0], p)
        np.testing.assert_allclose(f(p, t, w)[1], fd, rtol=1e-7, atol=1e-9)
    z, labels = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    fd = ref.numerical_gradient(lambda v: ref.softmax_ce_loss(v, labels, w[:5])[0], z)
    np.testing.assert_allclose(ref.softmax_ce_loss(z, labels, w[:5])[1], fd, rtol=1e-7, atol=1e-9)
    X, W, b, R = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 2))
    dX, dW, db = ref.dense_backward(R, X, W)
    np.testing.assert_allclose(dX, ref.numerical_gradient(lambda v: np.sum(R * ref.dense_forward(v, W, b)), X), rtol=1e-7)
    np.testing.assert_allclose(dW, ref.numerical_gradient(lambda v: np.sum(R * ref.dense_forward(X, v, b)), W), rtol=1e-7)
    np.testing.assert_allclose(db, ref.numerical_gradient(lambda v: np.sum(R * ref.dense_forward(X, W, v)), b), rtol=1e-7)


def test_reference_mlp_gradients_by_float64_finite_differences():
    rng = np.random.default_rng(9)
    sizes, acts = [3, 5, 4, 2], ["tanh", "elu", "sigmoid"]
    params = rng.normal(size=ref.mlp_n_params(sizes)) * 0.7
    X, R = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    masks = [None, rng.choice([0.0, 2.0], size=(6, 4)), None]
    out, cache = ref.mlp_forward(params, sizes, acts, X, masks=masks)
    dX, g = ref.mlp_backward(params, sizes, acts, cache, R)

    def S(p, x):
        return float(np.sum(R * ref.mlp_forward(p, sizes, acts, x, masks=masks)[0]))

    np.testing.assert_allclose(g, ref.numerical_gradient(lambda p: S(p, X), params), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dX, ref.numerical_gradient(lambda x: S(params, x), X), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- losses


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n", [1, 7, 1000])
@pytest.mark.parametrize("kind", ["mse", "bce"])
def test_pointwise_losses_match_reference(kind, n, weighted):
    rng = _seed(10, n)
    p = r32(rng, n, scale=3.0)
    t = r32(rng, n) if kind == "mse" else rng.uniform(size=n).astype(np.float32)
    w = rng.uniform(0, 2, size=n).astype(np.float32) if weighted else None
    fn = C.mse_loss if kind == "mse" else C.bce_logits_loss
    rf = ref.mse_loss if kind == "mse" else ref.bce_logits_loss
    loss, grad = fn(p, t, w)
    rloss, rgrad = rf(p, t, w)
    assert isinstance(loss, float) and grad.dtype == np.float32 and grad.shape == (n,)
    # double accumulation: only summation-order differences (~n * 1e-16)
    assert loss == pytest.approx(rloss, rel=1e-12, abs=1e-300)
    # one rounding to float32 of a value computed in double
    np.testing.assert_allclose(grad, rgrad, rtol=2 * U, atol=TINY)


def test_mse_loss_is_mean_over_entries():
    loss, grad = C.mse_loss([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0])
    assert loss == pytest.approx(30.0 / 4, rel=1e-15)
    np.testing.assert_array_equal(grad, [0.5, 1.0, 1.5, 2.0])
    loss, _ = C.mse_loss([1.0, 1.0], [0.0, 0.0], [2.0, 0.0])
    assert loss == pytest.approx(1.0, rel=1e-15)   # sum(w l) / n, not / sum(w)


def test_bce_logits_extreme_logits_are_finite_and_correct():
    z = np.array([100.0, -100.0, 100.0, -100.0, 0.0, 88.0, -104.0], np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 1.0, 1.0], np.float32)
    loss, grad = C.bce_logits_loss(z, y)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    rloss, rgrad = ref.bce_logits_loss(z, y)
    assert loss == pytest.approx(rloss, rel=1e-12)
    # hand values: per-entry losses 0, 0, 100, 100, log 2, ~0, 104
    assert loss == pytest.approx((200.0 + np.log(2.0) + 104.0) / 7, rel=1e-12)
    np.testing.assert_allclose(grad, rgrad, rtol=2 * U, atol=TINY)
    np.testing.assert_allclose(grad[:4], np.array([0.0, 0.0, 1.0, -1.0]) / 7, rtol=2 * U, atol=1e-30)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n,k", [(1, 1), (1, 2), (7, 13), (33, 300), (200, 3)])
def test_softmax_ce_matches_reference(n, k, weighted):
    rng = _seed(11, n, k)
    z = r32(rng, n, k, scale=4.0)
    labels = rng.integers(0, k, size=n)
    w = rng.uniform(0, 2, size=n).astype(np.float32) if weighted else None
    loss, grad = C.softmax_ce_loss(z, labels, w)
    rloss, rgrad = ref.softmax_ce_loss(z, labels, w)
    assert grad.dtype == np.float32 and grad.shape == (n, k)
    assert loss == pytest.approx(rloss, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(grad, rgrad, rtol=4 * U, atol=1e-12 / n)
    # each row of the gradient sums to zero (probabilities minus a one-hot)
    np.testing.assert_allclose(grad.astype(np.float64).sum(axis=1), 0.0, atol=k * 4 * U / n * 2)


def test_softmax_ce_huge_logits_are_finite_and_correct():
    z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]], np.float32)
    labels = np.array([0, 1, 2])
    loss, grad = C.softmax_ce_loss(z, labels)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == pytest.approx((0.0 + np.log(2.0) + np.log(3.0)) / 3, rel=1e-12)
    np.testing.assert_allclose(grad, ref.softmax_ce_loss(z, labels)[1], rtol=4 * U, atol=1e-12)
    loss, grad = C.softmax_ce_loss(z, [2, 0, 0])
    # per-row losses 2e4, 1e4 + log 2, log 3
    assert loss == pytest.approx((3e4 + np.log(2) + np.log(3)) / 3, rel=1e-12)


@pytest.mark.parametrize("n", [1, 5, 1000])
def test_wasserstein_loss_matches_reference(n):
    rng = _seed(12, n)
    real, fake = r32(rng, n), r32(rng, n, scale=2.0)
    loss, g_real, g_fake = C.wasserstein_loss(real, fake)
    rloss, rg_real, rg_fake = ref.wasserstein_loss(real, fake)
    assert loss == pytest.approx(rloss, rel=1e-12, abs=1e-14)
    # the gradient is the constant -1/n or +1/n, rounded to float32 once
    np.testing.assert_allclose(g_real, rg_real, rtol=U)
    np.testing.assert_allclose(g_fake, rg_fake, rtol=U)
    assert g_real.dtype == g_fake.dtype == np.float32


@pytest.mark.parametrize("which", ["mse", "bce", "softmax", "wasserstein"])
def test_loss_gradients_by_finite_differences_through_extension(which):
    """Directional central differences of the extension's loss (summed in
    double from float32 inputs, so the loss itself is accurate to ~1e-15):
    inputs are perturbed by +-h D and rounded to float32; the difference of
    the rounded inputs is used as the direction.  Truncation ~h^2 = 1e-6
    relative; the float32 gradient dotted with the direction adds ~u.  rtol
    1e-5 of the magnitude sum|g| |delta| covers both."""
    rng = _seed(13)
    n, k, h = 20, 4, 1e-3
    w = rng.uniform(0.5, 1.5, size=n).astype(np.float32)
    if which == "softmax":
        labels = rng.integers(0, k, size=n)
        x = r32(rng, n, k)

        def f(v):
            return C.softmax_ce_loss(v, labels, w)
    elif which == "wasserstein":
        other = r32(rng, n)
        x = r32(rng, n)

        def f(v):
            loss, g_real, g_fake = C.wasserstein_loss(other, v)
            return loss, g_fake
    else:
        t = rng.uniform(size=n).astype(np.float32)
        x = r32(rng, n, scale=2.0)
        fn = C.mse_loss if which == "mse" else C.bce_logits_loss

        def f(v):
            return fn(v, t, w)

    D = r32(rng, *x.shape)
    xp, xm = (x + h * D).astype(np.float32), (x - h * D).astype(np.float32)
    delta = xp.astype(np.float64) - xm
    fd = f(xp)[0] - f(xm)[0]
    g = f(x)[1].astype(np.float64)
    analytic = float(np.sum(g * delta))
    assert abs(fd - analytic) <= 1e-5 * float(np.sum(np.abs(g * delta))) + 1e-12


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
def test_dropout_mask_values_and_keep_fraction(p):
    n = 20000
    x = r32(_seed(14), 1, n)
    y, mask = C.dropout_forward(x, p, 123)
    assert y.dtype == mask.dtype == np.float32 and y.shape == mask.shape == (1, n)
    keep = np.float32(1.0 / (1.0 - p))
    assert np.all((mask == 0) | (mask == keep))
    # y = x * mask, one float32 product: bit-identical to NumPy's
    np.testing.assert_array_equal(y, x * mask)
    np.testing.assert_allclose(y, ref.dropout_forward(x, mask), rtol=U)
    frac = np.mean(mask != 0)
    sd = np.sqrt(p * (1 - p) / n)
    assert abs(frac - (1 - p)) <= 5 * sd + 1e-12
    if p == 0.0:
        np.testing.assert_array_equal(mask, np.ones((1, n), np.float32))


def test_dropout_seed_determinism():
    x = np.ones((1, 1000), np.float32)
    y1, m1 = C.dropout_forward(x, 0.5, 7)
    y2, m2 = C.dropout_forward(x, 0.5, 7)
    assert m1.tobytes() == m2.tobytes() and y1.tobytes() == y2.tobytes()
    _, m3 = C.dropout_forward(x, 0.5, 8)
    assert not np.array_equal(m1, m3)
    _, m4 = C.dropout_forward(x, 0.5, 2**64 - 1)
    assert not np.array_equal(m1, m4)


@pytest.mark.parametrize("units,n,width", [(1, 7, 7), (3, 5, 16), (30, 17, 32), (4, 0, 16)])
def test_dropout_feature_major_layout(units, n, width):
    """The MLP's layout: unit j of row i at [j, i]; the masks of the n rows
    are drawn row by row (the order of a row-major (n, units) array), so they
    are the draws of one line of n * units values, reshaped and transposed;
    the padding columns [n, width) get a zero mask."""
    rng = _seed(15, units, n)
    x = r32(rng, units, width)
    y, mask = C.dropout_forward(x, 0.3, 99, n=n)
    _, line = C.dropout_forward(np.ones((1, max(n * units, 1)), np.float32), 0.3, 99)
    np.testing.assert_array_equal(mask[:, :n], line[0, :n * units].reshape(n, units).T)
    assert not mask[:, n:].any()
    np.testing.assert_array_equal(y, x * mask)


# -------------------------------------------------------------------- RNG


@pytest.mark.parametrize("draw", ["rng_uniform", "rng_normal"])
def test_rng_same_seed_bit_identical_different_seed_differs(draw):
    f = getattr(C, draw)
    a, b = f(42, 1000), f(42, 1000)
    assert a.dtype == np.float32 and a.shape == (1000,)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, f(43, 1000))
    # a shorter draw is a prefix of a longer one (one stream per seed)
    assert f(42, 10).tobytes() == a[:10].tobytes()
    assert f(0, 0).shape == (0,)


def test_rng_uniform_range_and_moments():
    n = 200000
    u = C.rng_uniform(2024, n).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) <= 5 * np.sqrt(1 / 12 / n)
    # var of U(0,1) is 1/12; the sample variance has sd sqrt(1/180/n)
    assert abs(u.var() - 1 / 12) <= 5 * np.sqrt(1 / 180 / n)


def test_rng_uniform_never_returns_one():
    # With seed 24547 the 259th double drawn is 1 - 2^-53 * small, which
    # rounds up to 1.0f when converted to float32 ([0, 1) is promised).
    u = C.rng_uniform(24547, 300)
    assert u.max() < 1.0, int(np.argmax(u))


def test_rng_normal_moments():
    n = 200000
    z = C.rng_normal(99, n).astype(np.float64)
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) <= 5 / np.sqrt(n)
    assert abs(z.var() - 1.0) <= 5 * np.sqrt(2.0 / n)
    # symmetric tails: P(z > 1.96) ~ 0.025
    assert abs(np.mean(z > 1.96) - 0.025) <= 5 * np.sqrt(0.025 * 0.975 / n)


@pytest.mark.parametrize("high", [1, 2, 7, 1000, 2**40, 2**62])
def test_rng_indices_range_and_determinism(high):
    n = 5000
    idx = C.rng_indices(5, n, high)
    assert idx.dtype == np.int64 and idx.shape == (n,)
    assert idx.min() >= 0 and idx.max() < high
    assert idx.tobytes() == C.rng_indices(5, n, high).tobytes()
    assert C.rng_indices(5, 10, high).tobytes() == idx[:10].tobytes()
    if high == 1:
        assert not idx.any()
    else:
        assert not np.array_equal(idx, C.rng_indices(6, n, high))
    if high == 7:
        counts = np.bincount(idx, minlength=7)
        p = 1 / 7
        assert np.all(np.abs(counts - n * p) <= 5 * np.sqrt(n * p * (1 - p)))
    if high >= 2**40:
        assert idx.max() > high // 2   # uses the whole range, not only 32 bits


# ------------------------------------------------------------------- Adam

ADAM_CONFIGS = {
    "adam-default": dict(),
    "adam-l2": dict(learning_rate=1e-2, weight_decay=0.1),
    "adamw": dict(learning_rate=1e-2, weight_decay=0.1, decoupled=True),
    "adamw-betas": dict(learning_rate=3e-3, beta1=0.5, beta2=0.9, eps=1e-6, weight_decay=0.5, decoupled=True),
    "adam-lr1": dict(learning_rate=0.5, beta1=0.0, beta2=0.5, eps=1e-3, weight_decay=0.01),
}


def _adam_tol(params, lr, steps):
    # Float32 state: at step t the update lr * m_hat / (sqrt(v_hat) + eps) goes
    # through ~16 roundings, and m, v carry the rounding errors of all earlier
    # steps (v decays slowly: up to ~2t u relative, half of it in sqrt(v)), so
    # the update of step t is off by <= (2t + 16) u times its size (<= 3 lr for
    # these betas).  Rounding p itself (and p * (1 - lr wd)) adds 2u |p| per
    # step.  Summed over the steps, never amplified (the update is bounded).
    # A wrong formula (no bias correction, coupled vs decoupled decay) changes
    # p by O(lr) per step, far above this (checked below).
    drift = steps * (steps + 1) + 16 * steps
    return U * (3 * lr * drift + 2 * steps * (np.abs(params) + steps * lr))


@pytest.mark.parametrize("cfg", list(ADAM_CONFIGS), ids=list(ADAM_CONFIGS))
def test_adam_run_matches_closed_form(cfg):
    kw = ADAM_CONFIGS[cfg]
    rng = _seed(15)
    steps, n = 50, 37
    params = r32(rng, n)
    grads = r32(rng, steps, n) + np.linspace(-1, 1, n, dtype=np.float32)
    out = C.adam_run(params, grads, **kw)
    assert out.dtype == np.float32 and out.shape == (n,)
    expect = ref.adam_run(params, grads, **kw)
    lr = kw.get("learning_rate", 1e-3)
    tol = _adam_tol(expect, lr, steps)
    assert np.all(np.abs(out - expect) <= tol), np.max(np.abs(out - expect))
    # the tolerance is tight enough to tell Adam from AdamW and from a run
    # without bias correction
    if kw.get("weight_decay", 0) > 0:
        other = dict(kw, decoupled=not kw.get("decoupled", False))
        assert np.max(np.abs(ref.adam_run(params, grads, **other) - expect) - tol) > 0
    assert np.max(np.abs(_adam_no_bias_correction(params, grads, **kw) - expect) - tol) > 0


def _adam_no_bias_correction(params, grads, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                             weight_decay=0.0, decoupled=False):
    p = params.astype(np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for g in grads.astype(np.float64):
        if decoupled:
            p = p * (1 - learning_rate * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - learning_rate * m / (np.sqrt(v) + eps)
    return p


@pytest.mark.parametrize("beta1,beta2", [(0.5, 0.75), (0.9, 0.999), (0.9, 0.9999)])
def test_adam_single_step_is_sign_times_lr(beta1, beta2):
    # t = 1: m/(1-b1) = g and sqrt(v/(1-b2)) = |g|, so p -= lr * g / (|g| + eps).
    # In float32 (as torch computes it with float32 tensors) that is ~10
    # roundings of an exact value: rtol 16u ~ 1e-6.  (0.5, 0.75) are exact in
    # float32; the others check that 1 - beta is not formed from a
    # float32-rounded beta (0.999f = 0.99900001 makes 1 - beta2 off by 1.3e-5).
    g = np.array([[2.0, -3.0, 0.5, 0.0]], np.float32)
    out = C.adam_run(np.zeros(4, np.float32), g, learning_rate=0.1, beta1=beta1, beta2=beta2, eps=1e-8)
    np.testing.assert_allclose(out, [-0.1, 0.1, -0.1, 0.0], rtol=16 * U)


def test_adamw_decay_with_zero_gradient():
    # zero gradients: m = v = 0, so only the decoupled decay acts: p (1 - lr wd)^t
    p = np.array([1.0, -2.0, 4.0], np.float32)
    out = C.adam_run(p, np.zeros((10, 3), np.float32), learning_rate=0.1, weight_decay=0.5, decoupled=True)
    np.testing.assert_allclose(out, p * 0.95**10, rtol=20 * U)
    # L2 (coupled) decay instead moves every entry by ~lr per step toward 0
    out = C.adam_run(p, np.zeros((10, 3), np.float32), learning_rate=0.1, weight_decay=0.5)
    expect = ref.adam_run(p, np.zeros((10, 3)), 0.1, weight_decay=0.5)
    assert np.all(np.abs(out - expect) <= _adam_tol(np.abs(p), 0.1, 10))
