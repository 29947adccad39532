# setup.py only declares the C extension; metadata lives in pyproject.toml.
import sys

import numpy
from setuptools import Extension, setup

CORE = ["rng.c", "gemm.c", "layers.c", "adam.c", "mlp.c", "ganite.c", "wgan.c", "scigan.c"]
BINDING = ["_cganmodule.c"]

if sys.platform == "win32":
    # MSVC has no GNU C extensions: gemm.c selects its kernels by __GNUC__,
    # so here the GCC/Clang vector kernels are replaced by portable C11 loops
    # with the same contracts (as are rng.c's __uint128_t multiply and mlp.c's
    # always_inline).  /std:c11 is needed for _Alignas, _Static_assert and
    # restrict.
    compile_args = ["/O2", "/std:c11"]
else:
    # -O3 without fast-math: results follow IEEE rules.  -ffp-contract=fast
    # lets the FMA clone of the GEMM micro-kernel fuse multiply-adds; the
    # baseline build has no FMA, so nothing changes there.  -fno-math-errno
    # only drops errno writes (cgan never reads errno), so sqrt becomes one
    # instruction and Adam's loop vectorises; no result changes.
    compile_args = ["-std=c11", "-O3", "-ffp-contract=fast", "-fno-math-errno", "-Wall", "-Wextra", "-fvisibility=hidden"]

setup(
    ext_modules=[
        Extension(
            "cgan._cgan",
            sources=["csrc/" + f for f in CORE + BINDING],
            include_dirs=["csrc", numpy.get_include()],
            define_macros=[("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION")],
            extra_compile_args=compile_args,
        )
    ]
)
