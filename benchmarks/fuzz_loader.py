"""Fuzz cgan.loads with mutated saved models, optionally against an
AddressSanitizer + UndefinedBehaviorSanitizer build of the extension.

    python benchmarks/fuzz_loader.py --n 100000              # the installed cgan
    python benchmarks/fuzz_loader.py --sanitize --n 100000   # a sanitizer build

The inputs are tiny saved GANITE, SCIGAN and CausalWGAN models, mutated by
tests/fuzzing.py (truncation, bit flips, overwrites, insertions, deletions,
splices of two models, hostile header values, corrupted C snapshots with a
consistent framing, wrong versions, random bytes); most are resealed with a
valid checksum so that they reach the parser and the C loader.  Each input
must load or raise ValueError; a model that loads is then used (predict or
dose_response, and sample), and any Python exception there is counted, not
fatal: the run looks for crashes and sanitizer reports, which abort the
process.

--sanitize copies csrc/, python/ and setup.py to a temporary folder, builds
the extension there with -fsanitize=address,undefined (UBSan reports are
fatal), and reruns this script on that build with libasan preloaded
(ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1: CPython's own
allocations are not leaks, and an oversized request must return NULL as
malloc does, not abort).  The installed cgan is not touched."""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def build_sanitized(folder):
    for name in ("csrc", "python"):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(folder, name),
                        ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info"))
    shutil.copy(os.path.join(ROOT, "setup.py"), folder)
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), folder)
    flags = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
    env = dict(os.environ, CFLAGS=flags, LDFLAGS=flags)
    result = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=folder, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"the sanitizer build failed:\n{result.stdout}\n{result.stderr}")


def use(model, rng):
    """Predict and sample with a loaded model; Python errors are expected
    for some mutated models, crashes are not."""
    import numpy as np

    import cgan

    if isinstance(model, cgan.GANITE):
        if not hasattr(model, "classes_"):
            return
        X = rng.normal(size=(5, model.n_features_in_))
        model.predict(X)
        model.sample(X, 2, 0, T=np.resize(model.classes_, 5), Y=np.zeros(5))
        model.sample(X, 2, 0)
    elif isinstance(model, cgan.SCIGAN):
        if not hasattr(model, "dose_range_"):
            return
        X = rng.normal(size=(5, model.n_features_in_))
        treatment = None if model.classes_ is None else model.classes_[0]
        grid = np.linspace(model.dose_range_[0, 0], model.dose_range_[0, 1], 3)
        model.dose_response(X, grid, treatment=treatment)
        model.sample(X, grid, 2, 0, treatment=treatment)
    elif hasattr(model, "classes_"):
        model.sample(5)


def fuzz(n, seed, every):
    import warnings

    import numpy as np

    import cgan
    import fuzzing

    corpus = fuzzing.tiny_models()
    rng = np.random.default_rng(seed)

    def draw(lo, hi):
        return int(rng.integers(lo, hi + 1))

    counts = collections.Counter()
    start = time.perf_counter()
    with open("/proc/self/maps") if os.path.exists("/proc/self/maps") else open(os.devnull) as maps:
        asan = "libasan" in maps.read()
    print(f"cgan from {os.path.dirname(cgan._cgan.__file__)} (ASan loaded: {asan}); {len(corpus)} seed models; "
          f"{n} inputs", flush=True)
    warnings.simplefilter("ignore")  # overflow warnings from absurd loaded values are expected
    for i in range(n):
        data = corpus[draw(0, len(corpus) - 1)]
        model = fuzzing.check_load(fuzzing.mutate(data, corpus, draw))
        if model is None:
            counts["rejected (ValueError)"] += 1
        else:
            counts["loaded"] += 1
            try:
                use(model, rng)
                counts["loaded and used"] += 1
            except Exception as exc:  # noqa: BLE001 - any Python error is acceptable after a load
                counts[f"loaded, then {type(exc).__name__} in use"] += 1
        if every and (i + 1) % every == 0:
            print(f"  {i + 1} inputs, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"{n} inputs in {time.perf_counter() - start:.0f} s, no crash:")
    for key, value in sorted(counts.items()):
        print(f"  {key}: {value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="inputs to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=10_000, help="progress every this many inputs")
    parser.add_argument("--sanitize", action="store_true", help="build and run against ASan+UBSan")
    args = parser.parse_args()
    if not args.sanitize:
        fuzz(args.n, args.seed, args.every)
        return
    if not sysconfig.get_platform().startswith("linux"):
        sys.exit("--sanitize needs Linux and gcc")
    with tempfile.TemporaryDirectory(prefix="cgan-asan-") as folder:
        print("building the sanitizer build in", folder, flush=True)
        build_sanitized(folder)
        libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True,
                                 check=True).stdout.strip()
        env = dict(os.environ, LD_PRELOAD=libasan, PYTHONPATH=os.path.join(folder, "python"),
                   ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1",
                   UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
        cmd = [sys.executable, os.path.abspath(__file__), "--n", str(args.n), "--seed", str(args.seed),
               "--every", str(args.every)]
        result = subprocess.run(cmd, env=env, cwd=folder)
        if result.returncode != 0:
            sys.exit(f"the sanitizer run failed with exit status {result.returncode}")


if __name__ == "__main__":
    main()
