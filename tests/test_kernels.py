"""The float32 kernels of cgan._cgan against the float64 NumPy reference:
the kernels training runs (the MLP's feature-major products, transpose,
activations, dropout, losses, RNG, Adam), each at every instruction set the
CPU runs.

Tolerances (u = 2**-24 ~ 6e-8 is float32's unit roundoff):
  * A dot product of length k computed in float32, in any order and with or
    without FMA, has error <= gamma_k * sum|a_i b_i| with gamma_k ~ k u
    (Higham, Accuracy and Stability, Th. 3.5); rounding the result, and an
    epilogue's add, cost one more u each.  The typical error is ~sqrt(k) u,
    so the worst-case bound (k + 3) u * (|A| @ |B| + |C| + |b|) is never
    flaky, yet any indexing/blocking bug (a dropped K block, a wrong tile, a
    missing bias) produces errors of the order of |A| @ |B| itself.
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


# ------------------------------------------------- feature-major products

# the instruction sets this CPU runs; the fused ones (fma, avx512) give
# training's bits, the baseline rounds each product
ISAS = ["baseline", "fma", "avx512"][: ["baseline", "fma", "avx512"].index(C.ISA) + 1]
FUSED = [isa for isa in ISAS if isa != "baseline"]

# (m, n, k): m <= 3 takes panels of four vectors; m % 6 != 0 an edge tile;
# n = 16 one 512-bit vector; n = 48 a panel of two 256-bit vectors and one;
# k > 256 two blocks of k
FM_SHAPES = [(1, 16, 1), (2, 32, 30), (3, 64, 2), (5, 16, 257), (7, 48, 300), (13, 16, 5), (30, 256, 29),
             (6, 80, 7)]


def _fm_case(rng, m, n, k, layout, epilogue, pad=0):
    """Flat buffers for gemm_fm: A stored [m, k] ("rows"), [k, m] ("cols") or
    as one value ("constant", rs = cs = 0); B and C with rows padded by pad."""
    ldb, ldc = n + pad, n + 2 * pad
    if layout == "constant":
        A, rs, cs = r32(rng, 1), 0, 0
    else:
        A = r32(rng, m * k)
        rs, cs = (k, 1) if layout == "rows" else (1, m)
    kw = dict(rs=rs, cs=cs, ldb=ldb, ldc=ldc, epilogue=epilogue, C=r32(rng, m * ldc))
    if epilogue in ("bias", "bias_relu"):
        kw["aux"] = r32(rng, m)
    elif epilogue == "gate_relu":
        kw["aux"] = r32(rng, m * ldc)
    return A, r32(rng, k * ldb), kw


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m,n,k", FM_SHAPES, ids=[f"{a}x{b}x{c}" for a, b, c in FM_SHAPES])
def test_gemm_fm_matches_reference(m, n, k, isa):
    rng = _seed(1, m, n, k)
    for layout in ("rows", "cols", "constant"):
        for epilogue in ref.EPILOGUES:
            for pad in (0, 3):
                A, B, kw = _fm_case(rng, m, n, k, layout, epilogue, pad)
                out = C.gemm_fm(A, B, m, n, k, isa=isa, **kw)
                assert out.dtype == np.float32 and out.shape == kw["C"].shape
                expect, mag = ref.gemm_fm(A, B, m, n, k, **kw)
                # each row's padding columns [n, ldc) keep what C held
                ldc = kw["ldc"]
                cols = np.arange(m * ldc) % ldc
                np.testing.assert_array_equal(out[cols >= n], kw["C"][cols >= n])
                err = np.abs(out - expect)[cols < n].reshape(m, n)
                assert np.all(err <= (k + 3) * U * mag + TINY), (layout, epilogue, pad, float(err.max()))


@pytest.mark.parametrize("m,n,k", FM_SHAPES, ids=[f"{a}x{b}x{c}" for a, b, c in FM_SHAPES])
def test_gemm_fm_fused_sets_give_trainings_bits(m, n, k):
    """Training runs the best set; every set that fuses multiply-adds sums
    each value in the same order, so they agree bit for bit."""
    rng = _seed(2, m, n, k)
    for epilogue in ref.EPILOGUES:
        A, B, kw = _fm_case(rng, m, n, k, "cols", epilogue, pad=1)
        auto = C.gemm_fm(A, B, m, n, k, **kw)
        for isa in FUSED:
            assert C.gemm_fm(A, B, m, n, k, isa=isa, **kw).tobytes() == auto.tobytes(), (isa, epilogue)


@pytest.mark.parametrize("isa", ISAS)
def test_gemm_fm_value_does_not_depend_on_the_block_computed(isa):
    """A value is summed the same way whatever rows and columns are computed
    with it (what lets GANITE complete its rows once and reuse them)."""
    rng = _seed(3)
    m, n, k = 13, 64, 300
    A, B = r32(rng, m * k), r32(rng, k * n)
    full = C.gemm_fm(A, B, m, n, k, isa=isa).reshape(m, n)
    rows = C.gemm_fm(A[2 * k:], B, m - 2, n, k, isa=isa).reshape(m - 2, n)
    assert rows.tobytes() == full[2:].tobytes()
    cols = C.gemm_fm(A, B, m, 32, k, ldb=n, isa=isa).reshape(m, 32)
    assert cols.tobytes() == np.ascontiguousarray(full[:, :32]).tobytes()


@pytest.mark.parametrize("isa", ISAS)
def test_gemm_fm_add_sums_the_product_first(isa):
    """'add' sums the product from zero and then adds it, so the same product
    added twice to zero is exactly twice the stored product (one block of k)."""
    rng = _seed(4)
    m, n, k = 7, 48, 200
    A, B = r32(rng, m * k), r32(rng, k * n)
    once = C.gemm_fm(A, B, m, n, k, isa=isa)
    twice = C.gemm_fm(A, B, m, n, k, epilogue="add", C=C.gemm_fm(A, B, m, n, k, epilogue="add", isa=isa), isa=isa)
    np.testing.assert_array_equal(twice, 2 * once)


def test_gemm_fm_epilogues_by_hand():
    # small integers are exact in float32: each epilogue gives the exact answer
    A = np.array([1, 2, -3, 0, 1, 1], np.float32)          # [[1, 2, -3], [0, 1, 1]]
    B = np.tile(np.arange(16, dtype=np.float32), 3)        # every row of B is 0..15
    j = np.arange(16)
    np.testing.assert_array_equal(C.gemm_fm(A, B, 2, 16, 3), np.concatenate([0 * j, 2 * j]))
    np.testing.assert_array_equal(C.gemm_fm(A, B, 2, 16, 3, epilogue="bias", aux=[5, -1]),
                                  np.concatenate([0 * j + 5, 2 * j - 1]))
    np.testing.assert_array_equal(C.gemm_fm(A, B, 2, 16, 3, epilogue="bias_relu", aux=[-1, -3]),
                                  np.concatenate([0 * j, np.maximum(2 * j - 3, 0)]))
    gate = np.where(np.arange(32) % 2 == 0, 1.0, -1.0).astype(np.float32)
    np.testing.assert_array_equal(C.gemm_fm(A, B, 2, 16, 3, epilogue="gate_relu", aux=gate),
                                  np.concatenate([0 * j, 2 * j]) * (gate > 0))
    # the constant A of the bias gradient: every row sums B's rows
    np.testing.assert_array_equal(C.gemm_fm([1.0], B, 1, 16, 3, rs=0, cs=0), 3 * j)


NT_SHAPES = [(1, 1, 1), (29, 30, 256), (30, 2, 256), (30, 1, 255), (5, 7, 13), (4, 4, 3), (8, 5, 33), (3, 3, 8)]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m,n,k", NT_SHAPES, ids=[f"{a}x{b}x{c}" for a, b, c in NT_SHAPES])
def test_gemm_nt_matches_reference(m, n, k, isa):
    rng = _seed(5, m, n, k)
    lda, ldb, ldc = k + 3, k + 5, n + 2
    A, B, C0, b0 = r32(rng, m * lda), r32(rng, n * ldb), r32(rng, m * ldc), r32(rng, n)
    out, sums = C.gemm_nt(A, B, m, n, k, lda=lda, ldb=ldb, ldc=ldc, C=C0, bsum=b0, isa=isa)
    expect, rsums, mag = ref.gemm_nt(A, B, m, n, k, lda, ldb, ldc, C0, b0)
    cols = np.arange(m * ldc) % ldc
    np.testing.assert_array_equal(out[cols >= n], C0[cols >= n])
    assert np.all(np.abs(out - expect)[cols < n].reshape(m, n) <= (k + 3) * U * mag + TINY)
    bmag = np.abs(b0) + np.abs(ref.strided(B, n, ldb, k)).sum(axis=1)
    assert np.all(np.abs(sums - rsums) <= (k + 3) * U * bmag)
    # without bsum: the same products, and no sums returned
    alone, none = C.gemm_nt(A, B, m, n, k, lda=lda, ldb=ldb, ldc=ldc, C=C0, isa=isa)
    assert none is None and alone.tobytes() == out.tobytes()
    if isa != "baseline":
        auto, _ = C.gemm_nt(A, B, m, n, k, lda=lda, ldb=ldb, ldc=ldc, C=C0, bsum=b0)
        assert auto.tobytes() == out.tobytes()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("rows,cols", [(256, 29), (747, 25), (2, 256), (9, 9), (8, 8), (17, 3), (1, 1), (24, 7)])
def test_transpose_is_exact(rows, cols, isa):
    rng = _seed(6, rows, cols)
    lds, ldd = cols + cols % 3, rows + 5
    src, dst = r32(rng, rows * lds), r32(rng, cols * ldd)
    # a move, or one float32 add of the same two numbers as NumPy's; the
    # padding of each line of dst is left as it was
    pad = np.arange(cols * ldd) % ldd >= rows
    moved = ref.transpose(src, rows, cols, lds, ldd).astype(np.float32)
    for add in (False, True):
        out = C.transpose(src, rows, cols, lds=lds, ldd=ldd, dst=dst, add=add, isa=isa)
        np.testing.assert_array_equal(out, dst + moved if add else np.where(pad, dst, moved))


def test_kernel_hooks_check_their_buffers():
    with pytest.raises(ValueError, match="n must be a multiple of 16"):
        C.gemm_fm(np.ones(3), np.ones(30), 1, 10, 3)
    with pytest.raises(ValueError, match=r"A has 5 values, too few for 2 x 3 values at strides \(3, 1\)"):
        C.gemm_fm(np.ones(5), np.ones(48), 2, 16, 3)
    with pytest.raises(ValueError, match=r"A has 6 values, too few for 2 x 3 values at strides \(1, 3\)"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, rs=1, cs=3)
    with pytest.raises(ValueError, match="B has 47 values, too few"):
        C.gemm_fm(np.ones(6), np.ones(47), 2, 16, 3)
    with pytest.raises(ValueError, match="C has 31 values, too few"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, C=np.ones(31))
    with pytest.raises(ValueError, match="aux is only for"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, aux=np.ones(2))
    with pytest.raises(ValueError, match="aux has 1 values, too few for 1 x 2"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, epilogue="bias", aux=np.ones(1))
    with pytest.raises(ValueError, match="epilogue must be one of"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, epilogue="relu")
    with pytest.raises(ValueError, match="ldb must be between 16 and"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, ldb=8)
    with pytest.raises(ValueError, match=r"rs must be between 0 and 2147483648"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, rs=2**62)
    with pytest.raises(ValueError, match="isa must be one of"):
        C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, isa="sse")
    with pytest.raises(TypeError, match="isa must be a string"):
        C.gemm_nt(np.ones(6), np.ones(6), 2, 2, 3, isa=1)
    with pytest.raises(ValueError, match="A has 5 values, too few"):
        C.gemm_nt(np.ones(5), np.ones(6), 2, 2, 3)
    with pytest.raises(ValueError, match=r"src has 5 values, too few for 2 x 3 values"):
        C.transpose(np.ones(5), 2, 3)
    if C.ISA != "avx512":
        with pytest.raises(ValueError, match="not available on this CPU"):
            C.gemm_fm(np.ones(6), np.ones(48), 2, 16, 3, isa="avx512")


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


@pytest.mark.parametrize("which", ["mse", "bce", "softmax"])
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
