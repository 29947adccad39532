#!/usr/bin/env bash
# run.sh: build the C core's tests (csrc/tests/test_core.c) in double and
# float, and run each under AddressSanitizer + UndefinedBehaviorSanitizer and
# under valgrind; and float once more with -DCG_PORTABLE_GEMM (the plain C11
# kernels that non-GNU compilers build) and once with -DCG_NO_CLONES (the
# baseline instruction set only) under ASan + UBSan only.  Runnable from any directory; build outputs go to a temporary
# directory that is removed on exit.  Exits nonzero on any failure.
#
#   CC=gcc (default)   the compiler
#   CG_TEST_VERBOSE=1  print the worst error of every comparison
#   CG_SKIP_VALGRIND=1 skip the valgrind runs (they are required by default:
#                      a missing valgrind is an error)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
csrc="$(cd "$here/.." && pwd)"
CC="${CC:-gcc}"
work="$(mktemp -d "${TMPDIR:-/tmp}/cgan-ctest.XXXXXX")"
trap 'rm -rf "$work"' EXIT

core=("$csrc/rng.c" "$csrc/gemm.c" "$csrc/layers.c" "$csrc/adam.c" "$csrc/mlp.c" "$csrc/ganite.c" "$csrc/wgan.c")
# CG_ALLOC_HOOK: the core allocates through the counting functions of
# test_core.c, which hold the *_bytes functions to what create allocates
cflags=(-std=c11 -g -Wall -Wextra -Werror -ffp-contract=fast -fno-math-errno -DCG_ALLOC_HOOK -I"$csrc")
san=(-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

status=0
results=()
note() { results+=("$1"); echo "$1"; }

build() { # name extra-flags...
    local out="$work/$1"
    shift
    "$CC" "${cflags[@]}" "$@" -o "$out" "$here/test_core.c" "${core[@]}" -lm
}

# ---------------------------------------------------------------- sanitizers
# LeakSanitizer needs ptrace-like access to stop threads; some sandboxes deny
# it.  Probe with a program that leaks on purpose: if LSan reports the leak it
# works and the tests run with detect_leaks=1; if it dies with its own fatal
# error instead, say so and run with detect_leaks=0 (valgrind still checks
# leaks below).
lsan=1
cat >"$work/leak.c" <<'EOF'
#include <stdlib.h>
void *volatile keep;
int main(void) { keep = malloc(64); keep = 0; return 0; }
EOF
"$CC" -std=c11 -g -fsanitize=address -fno-omit-frame-pointer -o "$work/leak" "$work/leak.c"
if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$work/leak" >"$work/leak.log" 2>&1; then
    lsan=0
    note "NOTICE: LeakSanitizer did not report a deliberate leak; ASan runs use detect_leaks=0"
elif grep -q "detected memory leaks" "$work/leak.log"; then
    lsan=1
else
    lsan=0
    note "NOTICE: LeakSanitizer does not work here ($(grep -m1 -E 'LeakSanitizer|ptrace' "$work/leak.log" || echo 'unknown error')); ASan runs use detect_leaks=0"
fi

# float-portable: the plain C11 kernels of gemm.c (and the 128-bit multiply of
# rng.c) that compilers without GNU extensions (MSVC) build, forced on here;
# float-noclones: only the baseline instruction set, as musllinux wheels are
# built (-DCG_NO_CLONES).
for prec in double float float-portable float-noclones; do
    flags=()
    [[ $prec == double ]] && flags=(-DCG_DOUBLE)
    [[ $prec == float-portable ]] && flags=(-DCG_PORTABLE_GEMM)
    [[ $prec == float-noclones ]] && flags=(-DCG_NO_CLONES)
    exe="asan_$prec"
    if ! build "$exe" "${san[@]}" "${flags[@]+"${flags[@]}"}"; then
        note "asan+ubsan ($prec): BUILD FAILED"
        status=1
        continue
    fi
    log="$work/$exe.log"
    if ASAN_OPTIONS="detect_leaks=$lsan:abort_on_error=1" UBSAN_OPTIONS=print_stacktrace=1 \
        "$work/$exe" >"$log" 2>&1; then
        cat "$log"
        note "asan+ubsan ($prec, detect_leaks=$lsan): PASS: $(tail -n 1 "$log")"
    else
        rc=$?
        cat "$log"
        note "asan+ubsan ($prec, detect_leaks=$lsan): FAIL (exit $rc)"
        status=1
    fi
done

# ------------------------------------------------------------------- valgrind
if [[ "${CG_SKIP_VALGRIND:-0}" == 1 ]]; then
    note "valgrind: SKIPPED (CG_SKIP_VALGRIND=1)"
elif ! command -v valgrind >/dev/null 2>&1; then
    note "valgrind: NOT INSTALLED (set CG_SKIP_VALGRIND=1 to skip)"
    status=1
else
    for prec in double float; do
        flags=()
        [[ $prec == double ]] && flags=(-DCG_DOUBLE)
        exe="plain_$prec"
        if ! build "$exe" -O2 "${flags[@]+"${flags[@]}"}"; then
            note "valgrind ($prec): BUILD FAILED"
            status=1
            continue
        fi
        log="$work/$exe.log"
        if valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect,possible \
            "$work/$exe" >"$log" 2>&1; then
            cat "$log"
            note "valgrind ($prec): PASS: $(tail -n 1 "$log")"
        else
            rc=$?
            cat "$log"
            note "valgrind ($prec): FAIL (exit $rc)"
            status=1
        fi
    done
fi

echo
echo "==== csrc/tests summary"
printf '%s\n' "${results[@]}"
if [[ $status == 0 ]]; then echo "ALL PASSED"; else echo "SOME FAILED"; fi
exit "$status"
