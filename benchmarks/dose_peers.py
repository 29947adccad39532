"""The peers of the dose-response benchmark, each behind one small interface.

Every method has ``fit(rep)`` (a ``dose_designs.Replication``; it sees only the training
rows) and ``predict(X, treatment, doses)`` -> (n, len(doses)) expected outcomes in the units
of ``rep.y_train``; ``average(X, treatment, doses)`` -> the average curve over X (the mean of
``predict`` unless the method has its own estimator of it).

* ``TorchSCIGAN`` - SCIGAN in PyTorch, a port of the authors' TF1 code (``ioanabica/SCIGAN``).
* ``VCNet`` and ``DRNet`` - PyTorch ports of the networks of the VCNet authors' code
  (``lushleaf/varying-coefficient-net-with-functional-tr``), VCNet with its functional
  targeted regularisation, DRNet as that code builds it.
* ``CausalCurveGPS`` - the generalised propensity score of the ``causal-curve`` package.
* ``SplineDML`` - EconML's ``LinearDML`` with a cubic-spline featurisation of the dose.
* ``CganSCIGAN`` - ``cgan.SCIGAN`` through its public API, when cgan has it.

VCNet, DRNet, GPS and DML estimate the curve of one continuous treatment; on a design with
several treatments (the SCIGAN design) ``PerTreatment`` fits one of them per treatment on
that treatment's training rows.  SCIGAN (both) handles the treatments jointly.

Each peer runs at the defaults of its code or package.  Where a reference picks settings
per data set (VCNet's scripts do), the setting for the design is the reference's own; the
SCIGAN design, which the VCNet code never saw, gets its IHDP settings (real covariates).
None of this is a dependency of cgan: torch, causal-curve and econml are needed here only.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np


def _torch():
    import torch

    return torch


def in_row_blocks(n_rows, n_doses, block, cells=1 << 15):
    """Evaluate block(row_slice) -> (rows, n_doses) over slices of rows, about `cells` rows x doses at a time."""
    step = max(1, cells // max(1, n_doses))
    return np.concatenate([block(slice(i, min(i + step, n_rows))) for i in range(0, n_rows, step)], axis=0)


# =====================================================================================
# SCIGAN in PyTorch
# =====================================================================================
def make_torch_scigan_class():
    """Define TorchSCIGAN lazily, so that importing this module does not import torch."""
    torch = _torch()
    from torch import nn
    from torch.nn import functional as F

    try:  # fused CPU Adam (torch >= 2.4): the fastest update torch has for small networks
        torch.optim.Adam([nn.Parameter(torch.zeros(1))], fused=True)
        fused = True
    except (RuntimeError, TypeError, ValueError):
        fused = None

    def dense(n_in, n_out, bias=True):
        """tf.layers.dense: Glorot-uniform weights, zero bias."""
        layer = nn.Linear(n_in, n_out, bias=bias)
        nn.init.xavier_uniform_(layer.weight)
        if bias:
            nn.init.zeros_(layer.bias)
        return layer

    class PerTreatmentDense(nn.Module):
        """K independent dense layers, one per treatment, applied in one batched product.

        Input (K, rows, n_in) -> (K, rows, n_out).  Each treatment's slice is initialised like
        its own tf.layers.dense (Glorot uniform with that layer's fan-in and fan-out)."""

        def __init__(self, n_treatments, n_in, n_out, bias=True):
            super().__init__()
            bound = np.sqrt(6.0 / (n_in + n_out))
            self.weight = nn.Parameter(torch.empty(n_treatments, n_in, n_out).uniform_(-bound, bound))
            self.bias = nn.Parameter(torch.zeros(n_treatments, 1, n_out)) if bias else None

        def forward(self, x):
            if self.bias is None:
                return torch.bmm(x, self.weight)
            return torch.baddbmm(self.bias, x, self.weight)

    class DoseHeads(nn.Module):
        """Per treatment: [shared representation, dose] -> ELU(h) -> ELU(h) -> 1.

        The generator's and the inference network's treatment heads (the same shape in the
        authors' code).  shared (B, h), doses (B, K, M) -> outcomes (B, K, M)."""

        def __init__(self, n_treatments, h_dim):
            super().__init__()
            self.layer1 = PerTreatmentDense(n_treatments, h_dim + 1, h_dim)
            self.layer2 = PerTreatmentDense(n_treatments, h_dim, h_dim)
            self.output = PerTreatmentDense(n_treatments, h_dim, 1)

        def forward(self, shared, doses):
            B, K, M = doses.shape
            rep = shared[None, :, None, :].expand(K, B, M, shared.shape[1])
            inputs = torch.cat([rep, doses.permute(1, 0, 2)[..., None]], dim=3).reshape(K, B * M, -1)
            h = F.elu(self.layer1(inputs))
            h = F.elu(self.layer2(h))
            return self.output(h).reshape(K, B, M).permute(1, 0, 2)

    class Generator(nn.Module):
        """G(x, y, t, d, z): ELU(h) on [x, y, onehot t, d, z], then the per-treatment heads."""

        def __init__(self, n_features, n_treatments, n_noise, h_dim):
            super().__init__()
            self.shared = dense(n_features + 1 + n_treatments + 1 + n_noise, h_dim)
            self.heads = DoseHeads(n_treatments, h_dim)

        def forward(self, x, y, onehot, d, z, doses):
            shared = F.elu(self.shared(torch.cat([x, y, onehot, d, z], dim=1)))
            return self.heads(shared, doses)

    class Inference(nn.Module):
        """I(x, d'): ELU(h) on x, then the per-treatment heads at each dose."""

        def __init__(self, n_features, n_treatments, h_dim):
            super().__init__()
            self.shared = dense(n_features, h_dim)
            self.heads = DoseHeads(n_treatments, h_dim)

        def forward(self, x, doses):
            return self.heads(F.elu(self.shared(x)), doses)

    class DosageDiscriminator(nn.Module):
        """Per treatment: two equivariant layers over the set of (dose, outcome) pairs.

        Equivariant layer (the authors' equivariant_layer): Gamma(x_i) - Lambda(sum_j x_j),
        Lambda without bias.  h1 = ELU(eqv1(pairs) + ELU(dense(x))), h2 = ELU(eqv2(h1)), then
        a logit per element.  The x representation is one layer shared by the treatments."""

        def __init__(self, n_features, n_treatments, h_dim, h_set):
            super().__init__()
            self.features = dense(n_features, h_dim)
            self.gamma1 = PerTreatmentDense(n_treatments, 2, h_set)
            self.lambda1 = PerTreatmentDense(n_treatments, 2, h_set, bias=False)
            self.gamma2 = PerTreatmentDense(n_treatments, h_set, h_set)
            self.lambda2 = PerTreatmentDense(n_treatments, h_set, h_set, bias=False)
            self.output = PerTreatmentDense(n_treatments, h_set, 1)

        @staticmethod
        def equivariant(gamma, lam, s):  # s (K, B, M, c)
            K, B, M, c = s.shape
            each = gamma(s.reshape(K, B * M, c)).reshape(K, B, M, -1)
            pooled = lam(s.sum(dim=2)).reshape(K, B, 1, -1)
            return each - pooled

        def forward(self, x, pairs):  # pairs (B, K, M, 2) -> logits (B, K, M)
            B, K, M, _ = pairs.shape
            s = pairs.permute(1, 0, 2, 3)
            rep = F.elu(self.features(x))[None, :, None, :]
            h = F.elu(self.equivariant(self.gamma1, self.lambda1, s) + rep)
            h = F.elu(self.equivariant(self.gamma2, self.lambda2, h))
            return self.output(h.reshape(K, B * M, -1)).reshape(K, B, M).permute(1, 0, 2)

    class TreatmentDiscriminator(nn.Module):
        """Per treatment an invariant layer, sum_j ELU(dense(pair_j)); concatenated with
        ELU(dense(x)), then ELU(h) and one logit per treatment."""

        def __init__(self, n_features, n_treatments, h_dim, h_set):
            super().__init__()
            self.features = dense(n_features, h_dim)
            self.invariant = PerTreatmentDense(n_treatments, 2, h_set)
            self.hidden = dense(n_treatments * h_set + h_dim, h_dim)
            self.output = dense(h_dim, n_treatments)

        def forward(self, x, pairs):  # pairs (B, K, M, 2) -> logits (B, K)
            B, K, M, _ = pairs.shape
            s = pairs.permute(1, 0, 2, 3).reshape(K, B * M, 2)
            sets = F.elu(self.invariant(s)).reshape(K, B, M, -1).sum(dim=2)  # (K, B, h_set)
            joined = torch.cat([sets.permute(1, 0, 2).reshape(B, -1), F.elu(self.features(x))], dim=1)
            return self.output(F.elu(self.hidden(joined)))

    class TorchSCIGAN:
        """SCIGAN (Bica, Jordon & van der Schaar, NeurIPS 2020) in PyTorch, float32.

        Mirrors the authors' TF 1.15 code (``SCIGAN.py``, ``utils/model_utils.py``):

        * G(x, y, t, d, z), z ~ U(0, 1)^(K*M): one ELU layer of width h_dim on
          [x, y, onehot t, d, z], then per treatment two ELU layers and a linear output on
          [shared, d'] for each of the M sampled doses d' ~ U(0, 1); in each row the
          factual dose replaces the dose at a random position of the factual treatment, and
          a mask marks it.
        * The dosage discriminator (two equivariant layers per treatment over the (dose,
          outcome) pairs, plus ELU(dense(x)) after the first, a logit per dose) and the
          treatment discriminator (an invariant ELU layer summed over each treatment's set,
          concatenated with ELU(dense(x)), ELU(h_dim), a logit per treatment) both see G's
          outcomes with the factual y swapped in at the mask.
        * D losses: sigmoid cross-entropy of the factual treatment's dose logits against its
          mask row, and of the treatment logits against onehot t.  G loss:
          alpha * sqrt(MSE of its factual slot) - the cross-entropy of the combined
          probability sigmoid(dose logit) * sigmoid(treatment logit) against the mask.
        * I(x, d'): ELU(h_dim) on x, then the same per-treatment heads; loss
          sqrt(MSE to G's outcomes) + sqrt(MSE of its factual slot to y).
        * Dense layers initialised like tf.layers.dense (Glorot uniform, zero bias).  One
          Adam per network, lr 1e-3, betas (0.9, 0.999), eps 1e-8.  Batches of 128 drawn
          with replacement, a fresh batch (and fresh z, doses and positions) for every
          update.  n_iter = 5000 iterations of [2 G steps, 1 dosage-D step, 1 treatment-D
          step], then n_iter_inference = 10000 I steps.  h_dim = h_inv_eqv_dim = 64,
          M = num_dosage_samples = 5, alpha = 1.
        * Prediction: I's head of treatment t at dose d (I's output at one dose depends on
          x and that dose only, so the authors' placing of the query dose among random
          doses does not change it).

        Deviations: the per-treatment layers of G, I and the discriminators are computed as
        one batched product per layer (the same arithmetic as K separate layers); Adam is
        PyTorch's (fused on CPU), which adds eps to sqrt(v_hat) where TF1 adds it to sqrt(v)
        (a difference of order 1e-8 in the step size); the random streams are PyTorch's.
        The caller scales y (the authors min-max scale it over the whole data set; the
        benchmark scales it with the training rows' range).
        """

        def __init__(self, *, h_dim=64, h_inv_eqv_dim=64, batch_size=128, num_dosage_samples=5, alpha=1.0,
                     n_iter=5000, n_iter_inference=10000, learning_rate=1e-3, random_state=0):
            self.h_dim, self.h_inv_eqv_dim = h_dim, h_inv_eqv_dim
            self.batch_size, self.num_dosage_samples, self.alpha = batch_size, num_dosage_samples, alpha
            self.n_iter, self.n_iter_inference = n_iter, n_iter_inference
            self.learning_rate, self.random_state = learning_rate, random_state

        # ---- set-up
        def setup(self, X, treatment, dose, y, n_treatments):
            """Build the networks and optimisers and hold the training data (no training)."""
            torch.manual_seed(self.random_state)
            self.generator_ = torch.Generator().manual_seed(self.random_state)
            self.K_, self.M_ = int(n_treatments), self.num_dosage_samples
            self.X_ = torch.as_tensor(np.asarray(X, dtype=np.float32))
            self.T_ = torch.as_tensor(np.asarray(treatment, dtype=np.int64))
            self.D_ = torch.as_tensor(np.asarray(dose, dtype=np.float32))
            self.Y_ = torch.as_tensor(np.asarray(y, dtype=np.float32))
            p, K, h, hs = self.X_.shape[1], self.K_, self.h_dim, self.h_inv_eqv_dim
            self.G_ = Generator(p, K, K * self.M_, h)
            self.D_dose_ = DosageDiscriminator(p, K, h, hs)
            self.D_treat_ = TreatmentDiscriminator(p, K, h, hs)
            self.I_ = Inference(p, K, h)
            adam = dict(lr=self.learning_rate, betas=(0.9, 0.999), eps=1e-8, fused=fused)
            self.opt_G_ = torch.optim.Adam(self.G_.parameters(), **adam)
            self.opt_D_dose_ = torch.optim.Adam(self.D_dose_.parameters(), **adam)
            self.opt_D_treat_ = torch.optim.Adam(self.D_treat_.parameters(), **adam)
            self.opt_I_ = torch.optim.Adam(self.I_.parameters(), **adam)
            return self

        def _batch(self):
            """A minibatch with its sampled doses, the factual dose at a random position, and the mask."""
            B, K, M, g = self.batch_size, self.K_, self.M_, self.generator_
            idx = torch.randint(len(self.X_), (B,), generator=g)
            x, t, d, y = self.X_[idx], self.T_[idx], self.D_[idx], self.Y_[idx, None]
            z = torch.rand(B, K * M, generator=g)
            doses = torch.rand(B, K, M, generator=g)
            position = torch.randint(M, (B,), generator=g)
            rows = torch.arange(B)
            doses[rows, t, position] = d
            mask = torch.zeros(B, K, M)
            mask[rows, t, position] = 1.0
            onehot = mask.sum(dim=2)
            return x, t, d[:, None], y, z, doses, mask, onehot

        def _generate(self, batch):
            x, t, d, y, z, doses, mask, onehot = batch
            return self.G_(x, y, onehot, d, z, doses)

        @staticmethod
        def _pairs(doses, outcomes, mask, y):
            completed = mask * y[:, :, None] + (1.0 - mask) * outcomes
            return torch.stack([doses, completed], dim=3)

        # ---- one update of each network
        def generator_step(self):
            batch = self._batch()
            x, t, d, y, z, doses, mask, onehot = batch
            outcomes = self._generate(batch)
            pairs = self._pairs(doses, outcomes, mask, y)
            # G's loss is minimised over G's variables only (TF's var_list): no gradients for D's weights
            self.D_dose_.requires_grad_(False)
            self.D_treat_.requires_grad_(False)
            p_dose = torch.sigmoid(self.D_dose_(x, pairs))
            p_treat = torch.sigmoid(self.D_treat_(x, pairs))[:, :, None]
            self.D_dose_.requires_grad_(True)
            self.D_treat_.requires_grad_(True)
            p = p_dose * p_treat
            d_combined = -(mask * torch.log(p + 1e-7) + (1 - mask) * torch.log(1 - p + 1e-7)).mean()
            factual = (mask * outcomes).sum(dim=(1, 2))[:, None]
            loss = self.alpha * torch.sqrt(((y - factual) ** 2).mean()) - d_combined
            self._update(self.opt_G_, loss)

        def _batch_and_curves(self):
            """A fresh batch and G's outcomes on it, as constants (the D and I steps train other networks)."""
            batch = self._batch()
            with torch.no_grad():
                outcomes = self._generate(batch)
            return batch, outcomes

        @staticmethod
        def _update(optimizer, loss):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        def dosage_discriminator_step(self):
            (x, t, d, y, z, doses, mask, onehot), outcomes = self._batch_and_curves()
            logits = self.D_dose_(x, self._pairs(doses, outcomes, mask, y))
            rows = torch.arange(len(t))
            self._update(self.opt_D_dose_, F.binary_cross_entropy_with_logits(logits[rows, t], mask[rows, t]))

        def treatment_discriminator_step(self):
            (x, t, d, y, z, doses, mask, onehot), outcomes = self._batch_and_curves()
            logits = self.D_treat_(x, self._pairs(doses, outcomes, mask, y))
            self._update(self.opt_D_treat_, F.binary_cross_entropy_with_logits(logits, onehot))

        def inference_step(self):
            (x, t, d, y, z, doses, mask, onehot), target = self._batch_and_curves()
            outcomes = self.I_(x, doses)
            factual = (mask * outcomes).sum(dim=(1, 2))[:, None]
            loss = torch.sqrt(((target - outcomes) ** 2).mean()) + torch.sqrt(((y - factual) ** 2).mean())
            self._update(self.opt_I_, loss)

        def adversarial_iterations(self, k):
            """k iterations of the authors' loop: 2 generator steps, then one step of each discriminator."""
            for _ in range(k):
                self.generator_step()
                self.generator_step()
                self.dosage_discriminator_step()
                self.treatment_discriminator_step()

        def adversarial_steps(self, k):
            """k generator updates, each followed by one update of each discriminator (the speed test's step)."""
            for _ in range(k):
                self.generator_step()
                self.dosage_discriminator_step()
                self.treatment_discriminator_step()

        def inference_iterations(self, k):
            for _ in range(k):
                self.inference_step()

        def fit(self, X, treatment, dose, y, n_treatments):
            self.setup(X, treatment, dose, y, n_treatments)
            self.adversarial_iterations(self.n_iter)
            self.inference_iterations(self.n_iter_inference)
            return self

        @torch.no_grad()
        def predict(self, X, treatment, doses):
            grid = torch.as_tensor(np.asarray(doses, dtype=np.float32))

            def block(rows):
                x = torch.as_tensor(np.asarray(X[rows], dtype=np.float32))
                query = torch.zeros(len(x), self.K_, len(grid))
                query[:, treatment, :] = grid
                return self.I_(x, query)[:, treatment, :].double().numpy()

            return in_row_blocks(len(X), len(grid), block)

    return TorchSCIGAN


class TorchSCIGANPeer:
    """Benchmark wrapper of TorchSCIGAN at the authors' defaults."""

    name = "torch_scigan"
    label = "SCIGAN (PyTorch port)"

    def __init__(self, design, seed, quick=False):
        params = dict(random_state=seed)
        if quick:
            params.update(n_iter=300, n_iter_inference=600)
        self.model = make_torch_scigan_class()(**params)

    def fit(self, rep):
        # the authors' pipeline trains on y min-max scaled to [0, 1] (test_SCIGAN.py); here with the
        # training rows' range (on the SCIGAN design the benchmark has already done so: a no-op there)
        self.low, self.span = rep.y_train.min(), np.ptp(rep.y_train)
        scaled = (rep.y_train - self.low) / self.span
        self.model.fit(rep.X_train, rep.treatment_train, rep.dose_train, scaled, rep.n_treatments)
        return self

    def predict(self, X, treatment, doses):
        return self.model.predict(X, treatment, doses) * self.span + self.low

    def average(self, X, treatment, doses):
        return self.predict(X, treatment, doses).mean(axis=0)


# =====================================================================================
# VCNet and DRNet, as the VCNet authors' code builds and trains them
# =====================================================================================
VCNET_SETTINGS = {
    # from the authors' main_batch.py (simulation) and main_batch_ihdp.py; batch = their loader's
    "vcnet": dict(batch_size=500, weight_decay=5e-3, vcnet_lr=1e-4, drnet_lr=0.05,
                  tr_knots=np.arange(0.1, 1, 0.1), tr_weight_decay=5e-3),
    "ihdp_cont": dict(batch_size=471, weight_decay=5e-3, vcnet_lr=1e-3, drnet_lr=0.02,
                      tr_knots=np.arange(0.05, 1, 0.05), tr_weight_decay=1e-3),
}
VCNET_SETTINGS["scigan"] = dict(VCNET_SETTINGS["ihdp_cont"], batch_size=500)


def truncated_power_basis(t, degree, knots):
    """1, t, ..., t^degree, then (t - k)_+^degree for each knot (the authors' Truncated_power)."""
    torch = _torch()
    columns = [torch.ones_like(t)] + [t**p for p in range(1, degree + 1)]
    columns += [torch.relu(t - k) ** degree for k in knots]
    return torch.stack(columns, dim=1)


def make_vcnet_modules():
    torch = _torch()
    from torch import nn
    from torch.nn import functional as F

    def features(n_in, width):
        """Two ReLU layers, N(0, 0.01) weights and zero biases (the code's hidden_features)."""
        net = nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
        return net

    class DensityHead(nn.Module):
        """Conditional density of t on a grid of num_grid + 1 points, linearly interpolated."""

        def __init__(self, width, num_grid=10):
            super().__init__()
            self.num_grid = num_grid
            self.weight = nn.Parameter(torch.randn(width, num_grid + 1) * 0.01)
            self.bias = nn.Parameter(torch.zeros(num_grid + 1))

        def forward(self, t, hidden):
            probs = torch.softmax(hidden @ self.weight + self.bias, dim=1)
            upper = torch.ceil(t * self.num_grid)
            weight_up = 1 - (upper - t * self.num_grid)
            lower = upper - 1
            lower = lower + (lower < 0).to(lower.dtype)
            rows = torch.arange(len(t))
            low, high = probs[rows, lower.long()], probs[rows, upper.long()]
            return low + (high - low) * weight_up

    class VaryingCoefficientLayer(nn.Module):
        """out_o = sum_i h_i sum_k W[i, o, k] b_k(t) + sum_k c[o, k] b_k(t); W ~ N(0, 1), c = 0."""

        def __init__(self, n_in, n_out, degree, knots, relu):
            super().__init__()
            self.degree, self.knots, self.relu = degree, list(knots), relu
            n_basis = degree + 1 + len(self.knots)
            self.weight = nn.Parameter(torch.randn(n_in, n_out, n_basis))
            self.bias = nn.Parameter(torch.zeros(n_out, n_basis))

        def forward(self, t, h):
            basis = truncated_power_basis(t, self.degree, self.knots)  # (n, d)
            n_in, n_out, d = self.weight.shape
            mixed = (h @ self.weight.reshape(n_in, n_out * d)).reshape(len(h), n_out, d)
            out = (mixed * basis[:, None, :]).sum(dim=2) + basis @ self.bias.T
            return torch.relu(out) if self.relu else out

    class VCNetModule(nn.Module):
        """VCNet: features (2 x 50 ReLU), density head (grid 10), and a varying-coefficient
        head 50 -> 50 (ReLU) -> 1 with degree-2 truncated power basis, knots (0.33, 0.66)."""

        def __init__(self, n_features, width=50, degree=2, knots=(0.33, 0.66), num_grid=10):
            super().__init__()
            self.features = features(n_features, width)
            self.density = DensityHead(width, num_grid)
            self.layer1 = VaryingCoefficientLayer(width, width, degree, knots, relu=True)
            self.layer2 = VaryingCoefficientLayer(width, 1, degree, knots, relu=False)

        def forward(self, t, x):
            hidden = self.features(x)
            return self.density(t, hidden), self.layer2(t, self.layer1(t, hidden))[:, 0]

    class TreatmentLayer(nn.Module):
        """h W + t w_t + b: W ~ N(0, 0.01), w_t ~ N(0, 1) ('needs to be initialised large'), b = 0.

        One per dose stratum, batched: weight (S, n_in, n_out)."""

        def __init__(self, strata, n_in, n_out):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(strata, n_in, n_out) * 0.01)
            self.treat_weight = nn.Parameter(torch.randn(strata, 1, n_out))
            self.bias = nn.Parameter(torch.zeros(strata, 1, n_out))

        def forward(self, t, h):  # h (S, n, n_in), t (n,) -> (S, n, n_out)
            return torch.baddbmm(self.bias, h, self.weight) + t[None, :, None] * self.treat_weight

    class DRNetModule(nn.Module):
        """DRNet as the VCNet code builds it: features (2 x 50 ReLU), density head, and one
        head per dose stratum [0, .2), [.2, .4), [.4, .6), [.6, .8), [.8, 1], each
        (50 + t) -> 50 ReLU -> (50 + t) -> 1 (t enters every layer: isenhance = 1)."""

        cuts = (0.2, 0.4, 0.6, 0.8)

        def __init__(self, n_features, width=50, num_grid=10):
            super().__init__()
            self.features = features(n_features, width)
            self.density = DensityHead(width, num_grid)
            strata = len(self.cuts) + 1
            self.layer1 = TreatmentLayer(strata, width, width)
            self.layer2 = TreatmentLayer(strata, width, 1)

        def forward(self, t, x):
            hidden = self.features(x)
            stacked = hidden[None].expand(len(self.cuts) + 1, *hidden.shape)
            out = self.layer2(t, F.relu(self.layer1(t, stacked)))[:, :, 0]  # (S, n): every head, every row
            stratum = sum((t >= c).long() for c in self.cuts)
            return self.density(t, hidden), out[stratum, torch.arange(len(t))]

    return VCNetModule, DRNetModule


class _VaryingNetPeer:
    """Training loop of the VCNet authors' scripts (shared by VCNet and DRNet).

    SGD, momentum 0.9, Nesterov, weight decay 5e-3, fixed learning rate, 800 epochs of
    shuffled minibatches (the last one partial); loss mean((Q - y)^2) - alpha mean(log(g +
    1e-6)).  With targeted regularisation, a truncated power basis tr(t) (degree 2) with zero
    initial weights: the network's loss adds mean((y - tr(t) / (g + 1e-6) - Q)^2), and after
    each network step tr takes its own SGD step on that term (a fresh forward pass).  The
    average curve is mean over x of Q(t, x) + tr(t) / (g(t | x) + 1e-6); individual curves
    are Q(t, x).
    """

    single_treatment = True
    alpha, targeted, lr_setting, module = None, None, None, None  # set by each network's class

    def __init__(self, design, seed, quick=False):
        self.settings, self.seed = VCNET_SETTINGS[design], seed
        self.lr = self.settings[self.lr_setting]
        self.epochs = 100 if quick else 800

    def build(self, n_features):
        return make_vcnet_modules()[self.module](n_features)

    def fit(self, X, dose, y):
        torch = _torch()
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        s = self.settings
        x = torch.as_tensor(np.asarray(X, dtype=np.float32))
        t = torch.as_tensor(np.asarray(dose, dtype=np.float32))
        target = torch.as_tensor(np.asarray(y, dtype=np.float32))
        self.net = self.build(x.shape[1])
        opt = torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=0.9, weight_decay=s["weight_decay"],
                              nesterov=True)
        if self.targeted:
            self.tr_knots = list(s["tr_knots"])
            self.tr_weight = torch.nn.Parameter(torch.zeros(2 + 1 + len(self.tr_knots)))
            tr_opt = torch.optim.SGD([self.tr_weight], lr=1e-3, weight_decay=s["tr_weight_decay"])
        for _ in range(self.epochs):
            for rows in torch.randperm(len(x), generator=generator).split(s["batch_size"]):
                xb, tb, yb = x[rows], t[rows], target[rows]
                g, q = self.net(tb, xb)
                loss = ((q - yb) ** 2).mean() - self.alpha * torch.log(g + 1e-6).mean()
                if self.targeted:
                    loss = loss + self._tr_loss(g, q, tb, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if self.targeted:
                    g, q = self.net(tb, xb)
                    tr_loss = self._tr_loss(g, q, tb, yb)
                    tr_opt.zero_grad()
                    tr_loss.backward()
                    tr_opt.step()
        return self

    def _tr(self, t):
        return truncated_power_basis(t, 2, self.tr_knots) @ self.tr_weight

    def _tr_loss(self, g, q, t, y):
        return ((y - self._tr(t) / (g + 1e-6) - q) ** 2).mean()

    def _curves(self, X, doses, corrected):
        """Q(t, x) on every (row, dose), plus tr(t) / (g(t | x) + 1e-6) when `corrected`."""
        torch = _torch()
        X = np.asarray(X, dtype=np.float32)
        m = len(doses)
        grid = torch.as_tensor(np.asarray(doses, dtype=np.float32))

        def block(rows):
            x = torch.as_tensor(X[rows])
            t = grid.repeat(len(x))  # unit-major
            with torch.no_grad():
                g, q = self.net(t, x.repeat_interleave(m, dim=0))
                if corrected:
                    q = q + self._tr(t) / (g + 1e-6)
            return q.reshape(len(x), m).double().numpy()

        return in_row_blocks(len(X), m, block)

    def predict(self, X, doses):
        return self._curves(X, doses, corrected=False)

    def average(self, X, doses):
        return self._curves(X, doses, corrected=self.targeted).mean(axis=0)


class VCNetSingle(_VaryingNetPeer):
    """VCNet with functional targeted regularisation (the authors' 'Vcnet_tr')."""

    alpha, targeted, lr_setting, module = 0.5, True, "vcnet_lr", 0


class DRNetSingle(_VaryingNetPeer):
    """DRNet without targeted regularisation (the authors' 'Drnet')."""

    alpha, targeted, lr_setting, module = 1.0, False, "drnet_lr", 1


# =====================================================================================
# The generalised propensity score (causal-curve)
# =====================================================================================
class CausalCurveGPSSingle:
    """causal-curve's GPS_Regressor at its defaults (GLM family chosen by deviance among
    normal, lognormal and gamma; a LinearGAM of y on s(t) + s(GPS), 30 splines of order 3,
    lambda 0.5).  The package scores only its training rows, so the GPS of a new row is
    computed from the same GLM (refitted here with the same call; checked against the
    package's own GPS on the training rows), and its individual curve is the package's GAM
    at (t, GPS(t | x)) - Hirano and Imbens's E[Y | T = t, R = r(t, x)]."""

    single_treatment = True

    def __init__(self, design, seed, quick=False):
        self.seed = seed

    def fit(self, X, dose, y):
        import pandas as pd
        from causal_curve import GPS_Regressor

        self.model = GPS_Regressor(random_seed=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' deprecation notes inside causal-curve
            self.model.fit(T=pd.Series(np.asarray(dose, float)), X=pd.DataFrame(np.asarray(X, float)),
                           y=pd.Series(np.asarray(y, float)))
        self.family = self.model.best_gps_family.replace("_gps_model", "")
        self._fit_glm(np.asarray(X, float), np.asarray(dose, float))
        own = self._gps(np.asarray(X, float), np.asarray(dose, float)[:, None])[:, 0]
        if not np.allclose(own, np.asarray(self.model.gps), rtol=1e-6, atol=1e-9):
            raise RuntimeError("the rebuilt GPS does not match causal-curve's on the training rows")
        return self

    def _fit_glm(self, X, dose):
        import statsmodels.api as sm

        design = sm.add_constant(X, has_constant="add")
        if self.family == "normal":
            glm = sm.GLM(dose, design, family=sm.families.Gaussian()).fit()
        elif self.family == "lognormal":
            glm = sm.GLM(np.log(dose), design, family=sm.families.Gaussian()).fit()
        else:
            glm = sm.GLM(dose, design, family=sm.families.Gamma(sm.families.links.InversePower())).fit()
        self.params = glm.params
        self.sigma = np.std(glm.resid_response)
        self.scale = glm.scale

    def _gps(self, X, doses):
        """GPS r(t, x) for each row of X (n, p) at doses (broadcasting against (n, 1))."""
        from scipy.stats import gamma, norm

        linear = np.column_stack([np.ones(len(X)), X]) @ self.params
        if self.family == "normal":
            return norm.pdf(doses, linear[:, None], self.sigma)
        if self.family == "lognormal":
            return norm.pdf(np.log(doses), linear[:, None], self.sigma)
        mu = 1.0 / linear
        return gamma.pdf(doses, a=(mu / self.scale)[:, None], loc=0, scale=self.scale)

    def predict(self, X, doses):
        X = np.asarray(X, float)
        doses = np.asarray(doses, float)

        def block(rows):
            grid = np.broadcast_to(doses, (len(X[rows]), len(doses)))
            gps = self._gps(X[rows], grid)
            values = self.model.gam_results.predict(np.column_stack([grid.ravel(), gps.ravel()]))
            return values.reshape(len(grid), len(doses))

        return in_row_blocks(len(X), len(doses), block)

    def average(self, X, doses):
        return self.predict(X, doses).mean(axis=0)


# =====================================================================================
# EconML's DML with a spline featurisation of the dose
# =====================================================================================
class SplineDMLSingle:
    """EconML ``LinearDML`` at its defaults (model_y and model_t 'auto': the better of
    linear and forest models by cross-validation; cv = 2; a final stage linear in X) with
    ``treatment_featurizer=SplineTransformer(include_bias=False)`` (scikit-learn's defaults:
    5 uniform knots over the training doses, degree 3; no bias column, which the constant
    already spans).  DML estimates Y = g(X) + theta(X)' phi(T) + e; the curve of a unit is
    E[Y | x] + theta(x)' (phi(t) - E[phi(T) | x]), from the fitted nuisance models (mean
    over the cross-fitting folds) and the final stage's theta(x)."""

    single_treatment = True

    def __init__(self, design, seed, quick=False):
        self.seed = seed

    def fit(self, X, dose, y):
        from econml.dml import LinearDML
        from sklearn.preprocessing import SplineTransformer

        X = np.asarray(X, float)
        self.model = LinearDML(treatment_featurizer=SplineTransformer(include_bias=False), random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.fit(np.asarray(y, float), np.asarray(dose, float)[:, None], X=X)
        return self

    def predict(self, X, doses):
        X = np.asarray(X, float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = np.mean([m.predict(X) for m in self.model.models_y[0]], axis=0).reshape(len(X))
            features = np.mean([m.predict(X) for m in self.model.models_t[0]], axis=0).reshape(len(X), -1)
            theta = self.model.const_marginal_effect(X).reshape(len(X), -1)
            phi = self.model.transformer.transform(np.asarray(doses, float)[:, None])  # (m, f)
        return outcome[:, None] + theta @ phi.T - (theta * features).sum(axis=1, keepdims=True)

    def average(self, X, doses):
        return self.predict(X, doses).mean(axis=0)


# =====================================================================================
# One single-treatment model per treatment
# =====================================================================================
class PerTreatment:
    """Fits a single-treatment method once per treatment, on that treatment's training rows."""

    def __init__(self, single_class, name, label, design, seed, quick=False):
        self.single_class, self.name, self.label = single_class, name, label
        self.design, self.seed, self.quick = design, seed, quick

    def fit(self, rep):
        self.models = []
        for t in range(rep.n_treatments):
            rows = rep.treatment_train == t
            model = self.single_class(self.design, self.seed * 10 + t, self.quick)
            self.models.append(model.fit(rep.X_train[rows], rep.dose_train[rows], rep.y_train[rows]))
        return self

    def predict(self, X, treatment, doses):
        return self.models[treatment].predict(X, doses)

    def average(self, X, treatment, doses):
        return self.models[treatment].average(X, doses)


# =====================================================================================
# cgan.SCIGAN through its public API
# =====================================================================================
def cgan_has_scigan() -> bool:
    try:
        import cgan
    except ImportError:
        return False
    return hasattr(cgan, "SCIGAN")


def estimator_parameters(cls) -> set:
    return {name for name in inspect.signature(cls).parameters if name != "self"}


class CganSCIGAN:
    """``cgan.SCIGAN`` at its defaults (random_state = the replication; n_jobs = 1 when the
    estimator has it, so fit times are single-threaded like every peer's; cgan's results do
    not depend on n_jobs).  Several treatments: ``fit(y, t, X=X, dose=dose)`` and
    ``dose_response(X, doses, treatment=t)``; one continuous treatment: ``fit(y, dose, X=X)``,
    ``dose_response(X, doses)`` and ``average_dose_response(doses, X=X)``.  Warnings the
    estimator raises (e.g. doses outside the fitted range: MISE integrates over [0, 1]) are
    counted, not shown."""

    name = "cgan"
    label = "cgan.SCIGAN"

    def __init__(self, design, seed, quick=False):
        import cgan

        params = {"random_state": seed}
        accepted = estimator_parameters(cgan.SCIGAN)
        if "n_jobs" in accepted:
            params["n_jobs"] = 1
        if quick:  # shorter only: never more iterations than the estimator's defaults
            defaults = {k: v.default for k, v in inspect.signature(cgan.SCIGAN).parameters.items()}
            params.update({k: min(v, defaults[k]) for k, v in QUICK_CGAN.items()
                           if k in accepted and isinstance(defaults[k], int)})
        self.model = cgan.SCIGAN(**params)
        self.warnings = 0

    def _call(self, method, *args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = getattr(self.model, method)(*args, **kwargs)
        self.warnings += len(caught)
        return out

    def fit(self, rep):
        self.single = rep.n_treatments == 1
        if self.single:
            self._call("fit", rep.y_train, rep.dose_train, X=rep.X_train)
        else:
            self._call("fit", rep.y_train, rep.treatment_train, X=rep.X_train, dose=rep.dose_train)
        return self

    def predict(self, X, treatment, doses):
        kwargs = {} if self.single else {"treatment": treatment}
        return np.asarray(self._call("dose_response", X, np.asarray(doses), **kwargs), dtype=float)

    def average(self, X, treatment, doses):
        if self.single:
            return np.asarray(self._call("average_dose_response", np.asarray(doses), X=X), dtype=float).reshape(-1)
        return self.predict(X, treatment, doses).mean(axis=0)

    def average_interval(self, X, doses, n_bootstrap):
        """The estimator's 95% bootstrap band (lo, hi) of the average curve over X (one treatment)."""
        lo, hi = self._call("average_dose_response_interval", np.asarray(doses), X=X, n_bootstrap=n_bootstrap,
                            n_jobs=1)
        return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)

    def optimal_dose(self, X, treatment):
        kwargs = {} if self.single else {"treatment": treatment}
        return np.asarray(self._call("optimal_dose", X, **kwargs), dtype=float).reshape(-1)


QUICK_CGAN = dict(n_iter=300, n_iter_inference=600, n_iter_ite=600)  # whichever the estimator accepts


# =====================================================================================
# Registry
# =====================================================================================
METHODS = ("cgan", "torch_scigan", "vcnet", "drnet", "gps", "dml")
LABELS = {"cgan": "cgan.SCIGAN", "torch_scigan": "SCIGAN (PyTorch port)", "vcnet": "VCNet + TR (PyTorch port)",
          "drnet": "DRNet (PyTorch port)", "gps": "GPS (causal-curve)", "dml": "LinearDML + splines (EconML)"}
SINGLE = {"vcnet": VCNetSingle, "drnet": DRNetSingle, "gps": CausalCurveGPSSingle, "dml": SplineDMLSingle}


class SingleAsMethod:
    """A single-treatment model used directly on a design with one treatment."""

    def __init__(self, single):
        self.single = single

    def fit(self, rep):
        self.single.fit(rep.X_train, rep.dose_train, rep.y_train)
        return self

    def predict(self, X, treatment, doses):
        return self.single.predict(X, doses)

    def average(self, X, treatment, doses):
        return self.single.average(X, doses)


def make_method(name: str, design: str, seed: int, n_treatments: int, quick: bool = False):
    if name == "cgan":
        return CganSCIGAN(design, seed, quick)
    if name == "torch_scigan":
        return TorchSCIGANPeer(design, seed, quick)
    if name in SINGLE:
        if n_treatments == 1:
            return SingleAsMethod(SINGLE[name](design, seed, quick))
        return PerTreatment(SINGLE[name], name, LABELS[name], design, seed, quick)
    raise ValueError(f"method must be one of {METHODS}, got {name!r}")
