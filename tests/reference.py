"""An independent float64 NumPy reference for every kernel of ``cgan._cgan``.

Nothing here imports cgan: the formulas are written from their mathematical
definitions (and, for Adam/AdamW, from torch.optim's documented update), so
that the tests compare the float32 C core against code that shares none of
its implementation.  Every function takes and returns float64 arrays.

Conventions mirrored from the binding's documentation:
  * dense: Y = X W + b with W of shape [in, out] (the MLP's layers);
  * feature-major products over flat buffers: element (i, j) of a strided
    matrix at buf[i * rs + j * cs] (gemm_fm, gemm_nt, transpose);
  * activations: leaky_relu slope 0.2 and elu alpha 1.0 by default;
    derivatives at exactly 0 follow torch (relu'(0) = 0, leaky'(0) = slope,
    elu'(0) = alpha);
  * losses are scaled by 1/n (a mean over the n rows / entries), weights
    multiply each term (they are *not* renormalised);
  * MLP parameter block: for each layer W[in, out] (row-major) then b[out].
"""
from __future__ import annotations

import numpy as np

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "tanh", "sigmoid")


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def default_param(activation: str) -> float:
    return 0.2 if activation == "leaky_relu" else 1.0


# --------------------------------------------------------------- dense


def dense_forward(X, W, b=None):
    Y = _f64(X) @ _f64(W)
    if b is not None:
        Y = Y + _f64(b)[None, :]
    return Y


def dense_backward(dY, X, W):
    dY, X, W = _f64(dY), _f64(X), _f64(W)
    return dY @ W.T, X.T @ dY, dY.sum(axis=0)


# --------------------------------------------- feature-major products

EPILOGUES = ("store", "add", "bias", "bias_relu", "gate_relu")


def strided(buf, rows, rs, cols, cs=1):
    """The rows x cols matrix whose element (i, j) is buf[i * rs + j * cs]."""
    return _f64(buf)[np.arange(rows)[:, None] * rs + np.arange(cols)[None, :] * cs]


def _put(buf, rows, ld, cols, values):
    buf[np.arange(rows)[:, None] * ld + np.arange(cols)[None, :]] = values


def gemm_fm(A, B, m, n, k, rs=None, cs=1, ldb=None, ldc=None, epilogue="store", aux=None, C=None):
    """(C, magnitude): C[i*ldc + j] = epilogue((A B)[i, j]) for i < m, j < n,
    with A(i, p) = A[i*rs + p*cs] and B(p, j) = B[p*ldb + j]; the rest of C
    as given (zeros by default).  The epilogues: store AB; add C + AB; bias
    AB + aux[i]; bias_relu max(AB + aux[i], 0); gate_relu AB where the gate
    aux[i*ldc + j] > 0, else 0.  magnitude[i, j] is the sum of the absolute
    values of the terms, which bounds the rounding error."""
    rs = k if rs is None else rs
    ldb = n if ldb is None else ldb
    ldc = n if ldc is None else ldc
    out = np.zeros(m * ldc) if C is None else _f64(C).copy()
    a, b = strided(A, m, rs, k, cs), strided(B, k, ldb, n)
    prod, mag = a @ b, np.abs(a) @ np.abs(b)
    if epilogue == "store":
        r = prod
    elif epilogue == "add":
        cur = strided(out, m, ldc, n)
        r, mag = cur + prod, mag + np.abs(cur)
    elif epilogue in ("bias", "bias_relu"):
        bias = _f64(aux)[:m, None]
        r, mag = prod + bias, mag + np.abs(bias)
        if epilogue == "bias_relu":
            r = np.maximum(r, 0.0)
    elif epilogue == "gate_relu":
        r = np.where(strided(aux, m, ldc, n) > 0, prod, 0.0)
    else:
        raise ValueError(f"unknown epilogue {epilogue!r}")
    _put(out, m, ldc, n, r)
    return out, mag


def gemm_nt(A, B, m, n, k, lda=None, ldb=None, ldc=None, C=None, bsum=None):
    """(C, bsum, magnitude): C[i*ldc + j] += sum_p A[i*lda + p] B[j*ldb + p],
    and bsum[j] += sum_p B[j*ldb + p] when bsum is given."""
    lda = k if lda is None else lda
    ldb = k if ldb is None else ldb
    ldc = n if ldc is None else ldc
    out = np.zeros(m * ldc) if C is None else _f64(C).copy()
    a, b = strided(A, m, lda, k), strided(B, n, ldb, k)
    cur = strided(out, m, ldc, n)
    _put(out, m, ldc, n, cur + a @ b.T)
    mag = np.abs(cur) + np.abs(a) @ np.abs(b).T
    sums = None if bsum is None else _f64(bsum)[:n] + b.sum(axis=1)
    return out, sums, mag


def transpose(src, rows, cols, lds=None, ldd=None, dst=None, add=False):
    """dst[j*ldd + i] (+)= src[i*lds + j] for i < rows, j < cols."""
    lds = cols if lds is None else lds
    ldd = rows if ldd is None else ldd
    out = np.zeros(cols * ldd) if dst is None else _f64(dst).copy()
    t = strided(src, rows, lds, cols).T
    _put(out, cols, ldd, rows, t + strided(out, cols, ldd, rows) if add else t)
    return out


# --------------------------------------------------------- activations


def _sigmoid(x):
    # exp of a non-positive argument only, so no overflow warning
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def activation_forward(x, activation, param=None):
    x = _f64(x)
    a = default_param(activation) if param is None else float(param)
    if activation == "identity":
        return x.copy()
    if activation == "relu":
        return np.where(x > 0, x, 0.0)
    if activation == "leaky_relu":
        return np.where(x > 0, x, a * x)
    if activation == "elu":
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0)))
    if activation == "tanh":
        return np.tanh(x)
    if activation == "sigmoid":
        return _sigmoid(x)
    raise ValueError(f"unknown activation {activation!r}")


def activation_derivative(x, activation, param=None):
    """f'(x), computed from x (not from f(x) as the C core does)."""
    x = _f64(x)
    a = default_param(activation) if param is None else float(param)
    if activation == "identity":
        return np.ones_like(x)
    if activation == "relu":
        return (x > 0).astype(np.float64)
    if activation == "leaky_relu":
        return np.where(x > 0, 1.0, a)
    if activation == "elu":
        return np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0.0)))
    if activation == "tanh":
        return 1.0 / np.cosh(np.clip(x, -350.0, 350.0)) ** 2
    if activation == "sigmoid":
        s = _sigmoid(x)
        return s * (1.0 - s)
    raise ValueError(f"unknown activation {activation!r}")


def activation_backward(dy, x, activation, param=None):
    return _f64(dy) * activation_derivative(x, activation, param)


# ------------------------------------------------------------- dropout


def dropout_forward(x, mask):
    return _f64(x) * _f64(mask)


def dropout_backward(dy, mask):
    return _f64(dy) * _f64(mask)


# -------------------------------------------------------------- losses


def _weights(w, n):
    return np.ones(n) if w is None else _f64(w)


def mse_loss(pred, target, weight=None):
    """(mean_i w_i (p_i - t_i)^2, d/dp)."""
    p, t = _f64(pred), _f64(target)
    n = p.size
    w = _weights(weight, n)
    d = p - t
    return float(np.sum(w * d * d) / n), 2.0 * w * d / n


def bce_logits_loss(z, y, weight=None):
    """Binary cross-entropy of sigmoid(z) against y, from logits, stable.

    l = log(1 + e^z) - y z = max(z, 0) - y z + log1p(e^-|z|);  dl/dz = sigmoid(z) - y.
    """
    z, y = _f64(z), _f64(y)
    n = z.size
    w = _weights(weight, n)
    l = np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))
    return float(np.sum(w * l) / n), w * (_sigmoid(z) - y) / n


def softmax_ce_loss(z, labels, weight=None):
    """Mean (weighted) cross-entropy of softmax(z) against integer labels."""
    z = _f64(z)
    labels = np.asarray(labels, dtype=np.int64)
    n, k = z.shape
    w = _weights(weight, n)
    shifted = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1))
    logp = shifted - lse[:, None]
    rows = np.arange(n)
    loss = float(np.sum(w * -logp[rows, labels]) / n)
    grad = np.exp(logp)
    grad[rows, labels] -= 1.0
    return loss, grad * (w / n)[:, None]


# ----------------------------------------------------------------- MLP


def mlp_n_params(sizes):
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


def mlp_unpack(params, sizes):
    """Split a flat block into [(W_l [in,out], b_l [out]), ...]."""
    params = _f64(params)
    if params.shape != (mlp_n_params(sizes),):
        raise ValueError("parameter block has the wrong length")
    layers, off = [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        W = params[off:off + a * b].reshape(a, b)
        off += a * b
        bias = params[off:off + b]
        off += b
        layers.append((W, bias))
    return layers


def mlp_pack(layers):
    return np.concatenate([np.concatenate([W.ravel(), b.ravel()]) for W, b in layers])


def mlp_forward(params, sizes, activations, X, act_params=None, masks=None):
    """Returns (output, cache); masks[l] (or None) is a dropout mask per layer."""
    layers = mlp_unpack(params, sizes)
    act_params = act_params or [None] * len(layers)
    masks = masks or [None] * len(layers)
    a = _f64(X)
    cache = []
    for (W, b), act, ap, mask in zip(layers, activations, act_params, masks):
        z = dense_forward(a, W, b)
        h = activation_forward(z, act, ap)
        out = h if mask is None else dropout_forward(h, mask)
        cache.append((a, z, mask))
        a = out
    return a, cache


def mlp_backward(params, sizes, activations, cache, dOut, act_params=None):
    """Returns (dX, flat gradient block) for the forward that made `cache`."""
    layers = mlp_unpack(params, sizes)
    act_params = act_params or [None] * len(layers)
    grads = [None] * len(layers)
    d = _f64(dOut)
    for l in range(len(layers) - 1, -1, -1):
        W, _ = layers[l]
        a_prev, z, mask = cache[l]
        if mask is not None:
            d = dropout_backward(d, mask)
        dz = activation_backward(d, z, activations[l], act_params[l])
        d, dW, db = dense_backward(dz, a_prev, W)
        grads[l] = (dW, db)
    return d, mlp_pack(grads)


# ---------------------------------------------------------------- Adam


def adam_run(params, grads, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
             weight_decay=0.0, decoupled=False):
    """len(grads) steps of torch.optim.Adam (decoupled=False) / AdamW (True).

    Adam:  g <- g + wd p
    AdamW: p <- p (1 - lr wd)
    then   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
           p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """
    p = _f64(params).copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(_f64(grads), start=1):
        g = g.copy()
        if decoupled:
            p *= 1.0 - learning_rate * weight_decay
        else:
            g += weight_decay * p
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        bc1 = 1.0 - beta1 ** t
        bc2 = 1.0 - beta2 ** t
        p -= learning_rate / bc1 * m / (np.sqrt(v) / np.sqrt(bc2) + eps)
    return p


# ------------------------------------------------- finite differences


def numerical_gradient(f, x, h=1e-6):
    """Central differences of a scalar float64 function f at x (any shape)."""
    x = _f64(x).copy()
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f(x)
        flat[i] = old - h
        fm = f(x)
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return g
