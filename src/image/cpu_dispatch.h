// Implements: how the image module picks AVX2 code at run time, stated once.
// Internal to the image module (chw.cpp, resample_window.cpp).
//
// Two tools, one rule (the same bits on every CPU: no FMA, the same
// operations in the same order on every path):
// - C2AM_AVX2_CLONES on a plain loop the compiler vectorises: GCC builds it
//   twice (baseline and AVX2) and the loader picks one when the program
//   starts (ifunc).
// - C2AM_AVX2_TARGET on hand-written intrinsics, called only where
//   cpu_has_avx2() says so (tests can force the baseline path with
//   detail::force_baseline_simd, resample_coeffs.h).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define C2AM_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define C2AM_AVX2_CLONES
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define C2AM_HAVE_AVX2_TARGET 1
#define C2AM_AVX2_TARGET __attribute__((target("avx2")))
#endif
