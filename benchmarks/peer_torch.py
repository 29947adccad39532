"""GANITE fit time: cgan's C core vs. the same algorithm in PyTorch (and cgan's
peak memory on a large data set).

Usage:
    python benchmarks/peer_torch.py [--reps R] [--iters N] [--seed S] [--data PATH]
    python benchmarks/peer_torch.py --memory [--memory-rows N] [--memory-features D]

Requires PyTorch for the speed mode (``pip install torch``; CPU build is enough).
PyTorch is a benchmark-only requirement, never a dependency of cgan.  The
--memory mode does not import torch.

Speed mode
----------
Data: IHDP replication 1 ($CGAN_SHARED_DATA/ihdp/ihdp_npci_1.csv, default
/work/shared/data/...; 747 rows,
25 covariates, continuous outcome; columns treatment, y_factual, y_cfactual,
mu0, mu1, x1..x25), all rows used for training.

Configuration (the GANITE reference configuration): hidden 30, 2 hidden ReLU
layers per network, batch 256, noise_dim 0, alpha 1, beta 1, 2 discriminator
steps per generator step, N = 10000 counterfactual iterations + N inference
iterations (--iters N scales both), Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8.

The PyTorch peer (class TorchGANITE below) runs the same algorithm as
csrc/ganite.c, in float32 like cgan:
  * G: [x, onehot(t), y, z] -> K values; D: [x, ybar] -> 1 logit (K = 2) or K
    logits; I: x -> K values; nn.Sequential of Linear+ReLU, xavier_uniform_
    weights and zero biases; ybar[k] = y at the factual arm, G's value elsewhere.
  * y standardised within each arm (training mean and population sd per arm).
  * Each counterfactual iteration: d_steps discriminator steps, each on a fresh
    minibatch drawn with replacement (torch.randint with a seeded
    torch.Generator), G run without gradient; then one generator step on a
    fresh minibatch minimising supervised(G_t, y) - alpha * D loss, where the
    supervised loss is MSE (BCE with logits for a binary outcome) and D's
    weights are frozen (gradients flow only to G through ybar).
  * Adam with fused=True (PyTorch's fastest CPU update; the default loop is
    ~15-20% slower here), so the peer is not handicapped by its optimizer.
  * Each inference iteration: a fresh minibatch, ybar from G without gradient,
    loss = mean over rows of sum over arms of w * (I(x) - ybar)^2 with the
    factual arm weighted by beta (BCE with logits vs. the soft targets for a
    binary outcome); after each Adam step an exponential moving average of
    I's weights is updated (decay min(0.995, (1+s)/(10+s))), and predictions
    use the averaged weights.
  * Binary outcome only: in the counterfactual block G's counterfactuals are
    relaxed Bernoulli draws sigmoid((logit + logistic noise) / 0.5); the
    inference block uses the plain probabilities.  (IHDP is continuous, so
    the timed runs do not exercise this.)
  * weight_decay = 0, n_estimators = 1 and n_jobs = 1 are passed explicitly
    to cgan (its defaults are 0.1, an ensemble of 5 models, and threads).
This mirrors csrc/ganite.c as of commit 65dc977; keep the two in step.
The random streams differ from cgan's, so the two fits are not bit-identical;
both are checked to reach a sensible in-sample sqrt(PEHE) against mu1 - mu0.

Both sides run on one thread: OMP/OPENBLAS/MKL_NUM_THREADS=1 are set before
numpy/torch are imported, and torch.set_num_threads(1) /
set_num_interop_threads(1) are called.  cgan's core is single-threaded by
design.  After one short untimed warm-up fit of each, fits are timed
alternately (cgan, torch, cgan, torch, ...) R times
(--reps, default 3) so drift on a shared machine hits both; medians of the
wall times are reported.  Each fit is a full estimator fit: cgan.GANITE.fit
(which also fits its AIPW propensity model: ~0.08 s, a fixed cost that
matters only for small --iters) and TorchGANITE.fit.

Targets: cgan reference fit (median) <= 3 s; speed ratio torch/cgan >= 8x.
With --iters != 10000 the fit-time target is scaled linearly (3 s * N/10000).

Memory mode (--memory)
----------------------
Fits cgan.GANITE(n_iter=50, n_iter_ite=50, batch_size=256; other parameters at
their defaults, including n_estimators unless --memory-n-estimators) on synthetic
data, n = 1,000,000 rows x d = 50 float64 covariates (400 MB), and reports the
peak resident set size reached during fit minus the resident size just before
it, relative to the size of X.  The peak is Linux's VmHWM from
/proc/self/status, reset to the current RSS right before the fit by writing
"5" to /proc/self/clear_refs (when the kernel refuses, the data are built in
small chunks so that the peak before the fit is close to the current RSS, and
the script says so).  cgan converts float64 X to float32 once (half the data
size), so the expected increase is about 0.5x plus whatever the Python layer
allocates.  Target: increase <= 2x the data size.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import cgan  # noqa: E402
from _common import SHARED_DATA, cgan_version  # noqa: E402

DEFAULT_DATA = os.path.join(str(SHARED_DATA), "ihdp", "ihdp_npci_1.csv")
REF_ITERS = 10000
TARGET_FIT_S = 3.0
TARGET_RATIO = 8.0
TARGET_MEMORY = 2.0
REFERENCE = dict(hidden_size=30, n_hidden=2, batch_size=256, noise_dim=0, alpha=1.0, beta=1.0, d_steps=2,
                 learning_rate=1e-3, weight_decay=0.0)  # explicit: cgan's default weight_decay is 0.1
BINARY_TEMPERATURE = 0.5  # csrc/ganite.c: relaxed Bernoulli counterfactuals (binary outcome only)
EMA_DECAY = 0.995  # csrc/ganite.c: EMA of I's weights, used for prediction


# --------------------------------------------------------------- torch peer
def make_torch_ganite():
    """Define TorchGANITE lazily so that --memory never imports torch."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    try:  # fused CPU Adam needs torch >= 2.4
        torch.optim.Adam([nn.Parameter(torch.zeros(1))], fused=True)
        FUSED_ADAM = True
    except (RuntimeError, TypeError, ValueError):
        FUSED_ADAM = None

    def mlp(n_in, hidden, n_hidden, n_out):
        layers, width = [], n_in
        for _ in range(n_hidden):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, n_out))
        net = nn.Sequential(*layers)
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        return net

    class TorchGANITE:
        """GANITE as in csrc/ganite.c, written with standard PyTorch."""

        def __init__(self, *, hidden_size=30, n_hidden=2, batch_size=256, n_iter=10000, n_iter_ite=None,
                     d_steps=2, alpha=1.0, beta=1.0, learning_rate=1e-3, weight_decay=0.0, noise_dim=0,
                     binary=False, random_state=0):
            self.hidden_size, self.n_hidden, self.batch_size = hidden_size, n_hidden, batch_size
            self.n_iter = n_iter
            self.n_iter_ite = n_iter if n_iter_ite is None else n_iter_ite
            self.d_steps, self.alpha, self.beta = d_steps, alpha, beta
            self.learning_rate, self.weight_decay, self.noise_dim = learning_rate, weight_decay, noise_dim
            self.binary, self.random_state = binary, random_state

        def _optimizer(self, net):
            # fused=True: PyTorch's single-kernel Adam update (CPU support since 2.4),
            # ~15-20% faster than the default per-tensor loop on these small nets.
            kw = dict(lr=self.learning_rate, betas=(0.9, 0.999), eps=1e-8, fused=FUSED_ADAM)
            if self.weight_decay > 0:
                return torch.optim.AdamW(net.parameters(), weight_decay=self.weight_decay, **kw)
            return torch.optim.Adam(net.parameters(), **kw)

        def _batch(self):
            idx = torch.randint(self.n_, (self.batch_size,), generator=self.gen_)
            return self.X_[idx], self.T_[idx], self.Y_[idx]

        def _generate(self, x, t, y, relaxed):
            """G's raw outputs, and ybar (factual y at t, G's values elsewhere).

            For a binary outcome G's values are probabilities, or, when
            `relaxed` (the counterfactual block), relaxed Bernoulli draws
            sigmoid((logit + logistic noise) / BINARY_TEMPERATURE)."""
            onehot = F.one_hot(t, self.K_).to(x.dtype)
            parts = [x, onehot, y[:, None]]
            if self.noise_dim:
                parts.append(torch.randn(x.shape[0], self.noise_dim, generator=self.gen_))
            out = self.G_(torch.cat(parts, dim=1))
            values = out
            if self.binary and relaxed:
                u = torch.rand(out.shape, generator=self.gen_).clamp_min(1e-12)
                values = torch.sigmoid((out + torch.log(u) - torch.log1p(-u)) / BINARY_TEMPERATURE)
            elif self.binary:
                values = torch.sigmoid(out)
            ybar = torch.where(onehot.bool(), y[:, None], values)
            return out, ybar

        def _d_loss(self, x, ybar, t):
            logits = self.D_(torch.cat([x, ybar], dim=1))
            if self.K_ == 2:
                return F.binary_cross_entropy_with_logits(logits[:, 0], t.to(x.dtype))
            return F.cross_entropy(logits, t)

        def fit(self, Y, T, X):
            torch.manual_seed(self.random_state)  # network initialisation
            self.gen_ = torch.Generator().manual_seed(self.random_state)  # minibatches and noise
            X = torch.as_tensor(np.asarray(X, dtype=np.float32))
            classes, codes = np.unique(np.asarray(T), return_inverse=True)
            y = np.asarray(Y, dtype=np.float64)
            K = len(classes)
            if self.binary:
                self.ymean_, self.ysd_ = np.zeros(K), np.ones(K)
            else:  # per arm, as in csrc/ganite.c
                self.ymean_ = np.array([y[codes == k].mean() for k in range(K)])
                self.ysd_ = np.array([y[codes == k].std() or 1.0 for k in range(K)])
            self.X_ = X
            self.T_ = torch.as_tensor(codes.astype(np.int64))
            self.Y_ = torch.as_tensor(((y - self.ymean_[codes]) / self.ysd_[codes]).astype(np.float32))
            self.n_, d = X.shape
            self.K_ = K = len(classes)
            h, L = self.hidden_size, self.n_hidden
            self.G_ = mlp(d + K + 1 + self.noise_dim, h, L, K)
            self.D_ = mlp(d + K, h, L, 1 if K == 2 else K)
            self.I_ = mlp(d, h, L, K)
            opt_g, opt_d, opt_i = (self._optimizer(m) for m in (self.G_, self.D_, self.I_))

            # counterfactual block
            for _ in range(self.n_iter):
                for _ in range(self.d_steps):
                    x, t, y = self._batch()
                    with torch.no_grad():
                        _, ybar = self._generate(x, t, y, relaxed=True)
                    loss_d = self._d_loss(x, ybar, t)
                    opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    opt_d.step()
                x, t, y = self._batch()
                out, ybar = self._generate(x, t, y, relaxed=True)
                factual = out.gather(1, t[:, None])[:, 0]
                sup = (F.binary_cross_entropy_with_logits(factual, y) if self.binary
                       else F.mse_loss(factual, y))
                self.D_.requires_grad_(False)
                loss_g = sup - self.alpha * self._d_loss(x, ybar, t)
                self.D_.requires_grad_(True)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()

            # inference block; predictions use an exponential moving average of
            # I's weights: avg += r (w - avg), r = 1 - min(EMA_DECAY, (1+s)/(10+s))
            self.I_avg_ = copy.deepcopy(self.I_).requires_grad_(False)
            params, averages = list(self.I_.parameters()), list(self.I_avg_.parameters())
            for step in range(self.n_iter_ite):
                x, t, y = self._batch()
                with torch.no_grad():
                    _, ybar = self._generate(x, t, y, relaxed=False)
                    w = torch.where(F.one_hot(t, K).bool(), self.beta, 1.0)
                out = self.I_(x)
                per = (F.binary_cross_entropy_with_logits(out, ybar, reduction="none") if self.binary
                       else (out - ybar) ** 2)
                loss_i = (w * per).sum(dim=1).mean()
                opt_i.zero_grad(set_to_none=True)
                loss_i.backward()
                opt_i.step()
                with torch.no_grad():
                    r = 1.0 - min(EMA_DECAY, (1.0 + step) / (10.0 + step))
                    for avg, w in zip(averages, params):
                        avg.lerp_(w, r)
            return self

        def predict(self, X):
            with torch.no_grad():
                out = self.I_avg_(torch.as_tensor(np.asarray(X, dtype=np.float32)))
                out = out.numpy().astype(np.float64)
            if self.binary:
                return 1.0 / (1.0 + np.exp(-out))
            return out * self.ysd_ + self.ymean_

    return torch, TorchGANITE


# ------------------------------------------------------------- speed mode


def sqrt_pehe(mu, tau):
    return float(np.sqrt(np.mean(((mu[:, 1] - mu[:, 0]) - tau) ** 2)))


def run_speed(args):
    torch, TorchGANITE = make_torch_ganite()
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    a = np.loadtxt(args.data, delimiter=",")
    t = a[:, 0].astype(np.int64)
    y = a[:, 1]
    tau = a[:, 4] - a[:, 3]
    X = a[:, 5:]
    n, d = X.shape
    cfg = dict(REFERENCE, n_iter=args.iters, n_iter_ite=args.iters)
    # one model on each side: cgan.GANITE may average an ensemble (n_estimators)
    # and one thread: cgan.GANITE may train ensemble members in threads (n_jobs)
    known = cgan.GANITE().get_params()
    cgan_cfg = dict(cfg, **{k: 1 for k in ("n_estimators", "n_jobs") if k in known})
    # and the reference networks alone: no per-arm ridge line under them
    if "baseline" in known:
        cgan_cfg["baseline"] = "none"
    target_fit = TARGET_FIT_S * args.iters / REF_ITERS

    print(f"# IHDP replication 1: n={n}, d={d}, {int(t.sum())} treated, true ATE {tau.mean():.3f}")
    print(f"# cgan {cgan_version()}, torch {torch.__version__} "
          f"(threads {torch.get_num_threads()}), numpy {np.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs")
    print("# GANITE config: " + ", ".join(f"{k}={v}" for k, v in cgan_cfg.items()) + ", float32, continuous outcome")
    print()
    # warm-up (untimed): first-call costs of both libraries (lazy init, allocator)
    cgan.GANITE(outcome="continuous", random_state=0, **dict(cgan_cfg, n_iter=50, n_iter_ite=50)).fit(y, t, X=X)
    TorchGANITE(random_state=0, **dict(cfg, n_iter=50, n_iter_ite=50)).fit(y, t, X)

    print("| rep | cgan fit s | torch fit s | torch/cgan | cgan √PEHE in | torch √PEHE in |")
    print("|---:|---:|---:|---:|---:|---:|")
    tc, tt, pc, pt = [], [], [], []
    for rep in range(args.reps):
        seed = args.seed + rep
        gc.collect()
        model = cgan.GANITE(outcome="continuous", random_state=seed, **cgan_cfg)
        t0 = time.perf_counter()
        model.fit(y, t, X=X)
        tc.append(time.perf_counter() - t0)
        pc.append(sqrt_pehe(model.predict(X), tau))
        gc.collect()
        peer = TorchGANITE(random_state=seed, **cfg)
        t0 = time.perf_counter()
        peer.fit(y, t, X)
        tt.append(time.perf_counter() - t0)
        pt.append(sqrt_pehe(peer.predict(X), tau))
        print(f"| {rep} | {tc[-1]:.2f} | {tt[-1]:.2f} | {tt[-1] / tc[-1]:.1f}× | {pc[-1]:.3f} | {pt[-1]:.3f} |",
              flush=True)
    mc, mt = statistics.median(tc), statistics.median(tt)
    ratio = mt / mc
    print(f"| median | {mc:.2f} | {mt:.2f} | {ratio:.1f}× | {statistics.median(pc):.3f} "
          f"| {statistics.median(pt):.3f} |")
    print()
    sensible = all(np.isfinite(v) and v < 3.0 for v in pc + pt)
    print(f"sanity: in-sample √PEHE cgan {statistics.median(pc):.3f}, torch {statistics.median(pt):.3f} "
          f"(both < 3: {'yes' if sensible else 'NO'})")
    print(f"target: cgan fit median {mc:.2f} s <= {target_fit:.2f} s ({args.iters} + {args.iters} iterations): "
          f"{'PASS' if mc <= target_fit else 'MISS'}")
    print(f"target: speed ratio torch/cgan {ratio:.1f}× >= {TARGET_RATIO:.0f}×: "
          f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}")
    return 0


# ------------------------------------------------------------ memory mode
def proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_memory(args):
    n, d = args.memory_rows, args.memory_features
    rng = np.random.default_rng(args.seed)
    X = np.empty((n, d), dtype=np.float64)
    T = np.empty(n, dtype=np.int64)
    Y = np.empty(n, dtype=np.float64)
    beta = rng.normal(size=d) / np.sqrt(d)
    chunk = 50_000
    for s in range(0, n, chunk):  # chunked so that no large temporary raises the peak
        e = min(n, s + chunk)
        X[s:e] = rng.normal(size=(e - s, d))
        lin = X[s:e] @ beta
        T[s:e] = rng.random(e - s) < 1.0 / (1.0 + np.exp(-lin))
        Y[s:e] = lin + 0.5 * T[s:e] * (1.0 + X[s:e, 0]) + rng.normal(size=e - s)
    gc.collect()
    data_mb = X.nbytes / 2**20
    rss0 = proc_status_kb("VmRSS")
    hwm_before = proc_status_kb("VmHWM")
    was_reset = reset_peak()
    if was_reset:
        hwm_before = proc_status_kb("VmHWM")
    extra = {} if args.memory_n_estimators is None else {"n_estimators": args.memory_n_estimators}
    model = cgan.GANITE(n_iter=50, n_iter_ite=50, batch_size=256, random_state=args.seed, **extra)
    n_est = model.get_params().get("n_estimators", 1)
    t0 = time.perf_counter()
    model.fit(Y, T, X=X)
    fit_s = time.perf_counter() - t0
    hwm = proc_status_kb("VmHWM")
    rss1 = proc_status_kb("VmRSS")
    inc_mb = (hwm - rss0) / 1024
    rel = inc_mb / data_mb
    print(f"# memory: X float64 {n} x {d} = {data_mb:.0f} MiB (+ T, Y {(T.nbytes + Y.nbytes) / 2**20:.0f} MiB); "
          f"cgan {cgan_version()}, Python {platform.python_version()}")
    print(f"# GANITE(n_iter=50, n_iter_ite=50, batch_size=256; n_estimators={n_est}) fit {fit_s:.1f} s; "
          f"peak reset via clear_refs: {'yes' if was_reset else 'no (peak before fit ' + str(hwm_before // 1024) + ' MiB)'}")
    print()
    print("| RSS before fit MiB | peak during fit MiB | RSS after fit MiB | peak increase MiB | increase / data |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {rss0 / 1024:.0f} | {hwm / 1024:.0f} | {rss1 / 1024:.0f} | {inc_mb:.0f} | {rel:.2f}× |")
    print()
    print(f"target: peak RSS increase {rel:.2f}× <= {TARGET_MEMORY:.0f}× data size: "
          f"{'PASS' if rel <= TARGET_MEMORY else 'MISS'}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="alternating cgan/torch fit pairs (default 3)")
    ap.add_argument("--iters", type=int, default=REF_ITERS,
                    help="iterations of each block (default 10000, the reference)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--memory", action="store_true", help="run the peak-memory measurement instead")
    ap.add_argument("--memory-rows", type=int, default=1_000_000)
    ap.add_argument("--memory-features", type=int, default=50)
    ap.add_argument("--memory-n-estimators", type=int, default=None,
                    help="n_estimators for the memory fit (default: the estimator's default)")
    args = ap.parse_args(argv)
    return run_memory(args) if args.memory else run_speed(args)


if __name__ == "__main__":
    sys.exit(main())
