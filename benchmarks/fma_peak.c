/* fma_peak.c: the single-core float32 FMA ceiling of this CPU, the bound
 * that any kernel of cgan's core (or of a peer) runs under.
 *
 *   cc -O2 -o /tmp/fma_peak benchmarks/fma_peak.c && /tmp/fma_peak
 *
 * Each loop keeps 12 independent chains of fused multiply-adds in registers
 * (enough to cover the FMA latency on two ports), so the time is that of
 * the FMA units alone: no loads, no stores.  A 512-bit FMA does 32 flops,
 * a 256-bit one 16.  Prints the median of 7 runs per width.
 *
 * Where the CPU has AVX512_BF16, it also times vdpbf16ps, the bfloat16 dot
 * product (16 float sums, each adding two products: 64 flops), in the same
 * 12 chains.  That is the ceiling a bfloat16 kernel would run under, and so
 * what reduced precision could gain on this core. */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REPS 7
#define ITERS 20000000L

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define CHAINS(T, FMA, SET, U, SETU)                                                   \
    T a0 = SET(0.f), a1 = SET(1.f), a2 = SET(2.f), a3 = SET(3.f), a4 = SET(4.f),     \
      a5 = SET(5.f), a6 = SET(6.f), a7 = SET(7.f), a8 = SET(8.f), a9 = SET(9.f),     \
      a10 = SET(10.f), a11 = SET(11.f);                                                \
    const U m = SETU(0.999f), c = SETU(1e-3f);                                         \
    _Pragma("GCC unroll 8") for (long k = 0; k < n; k++) {                             \
        a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c);                    \
        a3 = FMA(a3, m, c); a4 = FMA(a4, m, c); a5 = FMA(a5, m, c);                    \
        a6 = FMA(a6, m, c); a7 = FMA(a7, m, c); a8 = FMA(a8, m, c);                    \
        a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);                \
    }                                                                                  \
    T s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;

__attribute__((target("avx512f,fma"))) static float chains512(long n)
{
    CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps, __m512, _mm512_set1_ps)
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float chains256(long n)
{
    CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps, __m256, _mm256_set1_ps)
    float t[8], r = 0;
    _mm256_storeu_ps(t, s);
    for (int i = 0; i < 8; i++) r += t[i];
    return r;
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define HAVE_BF16 1
/* x rounded to bfloat16 in both halves of every 32-bit lane */
__attribute__((target("avx512f,avx512bf16"))) static __m512bh set1_bf16(float x)
{
    __m512 v = _mm512_set1_ps(x);
    return _mm512_cvtne2ps_pbh(v, v);
}

__attribute__((target("avx512f,avx512bf16"))) static float chains_bf16(long n)
{
    CHAINS(__m512, _mm512_dpbf16_ps, _mm512_set1_ps, __m512bh, set1_bf16)
    return _mm512_reduce_add_ps(s);
}
#endif

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_gflops(float (*f)(long), int lanes)
{
    double rate[REPS];
    volatile float sink = 0;
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        sink += f(ITERS);
        rate[r] = (double)ITERS * 12 * lanes * 2 / (now() - t0) / 1e9;
    }
    (void)sink;
    qsort(rate, REPS, sizeof rate[0], by_value);
    return rate[REPS / 2];
}

int main(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("256-bit FMA: %.1f GFLOP/s\n", median_gflops(chains256, 8));
    if (__builtin_cpu_supports("avx512f"))
        printf("512-bit FMA: %.1f GFLOP/s\n", median_gflops(chains512, 16));
    else
        printf("512-bit FMA: not supported on this CPU\n");
#ifdef HAVE_BF16
    if (__builtin_cpu_supports("avx512bf16"))
        printf("512-bit bf16 dot product (vdpbf16ps): %.1f GFLOP/s\n", median_gflops(chains_bf16, 32));
    else
        printf("512-bit bf16 dot product: not supported on this CPU\n");
#endif
    return 0;
}
