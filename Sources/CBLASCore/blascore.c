// Debian 12's OpenBLAS (0.3.21, DYNAMIC_ARCH) does not know recent Intel server cores (Sapphire
// and Emerald Rapids, family 6 models 143 and 207) and falls back to its generic "Prescott"
// SSE3 kernels: sgemm then runs at about a third of the speed the CPU's AVX-512 kernels reach
// (measured: 60 against 200 GFLOPS on 2 cores). OpenBLAS picks its kernels in its own library
// constructor, before any of tedi's code runs, and reads OPENBLAS_CORETYPE only there. So this
// constructor (run after OpenBLAS's, before main) checks what OpenBLAS chose; when it is the
// generic fallback on a CPU with AVX2 or AVX-512, and the user has not set OPENBLAS_CORETYPE,
// it sets OPENBLAS_CORETYPE to the kernel family the CPU supports and re-executes the program
// once with the same arguments (the re-executed process then removes the variable again, so
// every child process checks its own CPU). Users who set OPENBLAS_CORETYPE themselves are left alone;
// TEDI_BLAS_CORE_CHECK=0 turns the check off. Under valgrind, set OPENBLAS_CORETYPE yourself (or
// TEDI_BLAS_CORE_CHECK=0): a re-executed program would leave the tool unless it traces children.
#define _GNU_SOURCE
#include "CBLASCore.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <sys/auxv.h>
#endif

char *openblas_get_corename(void);

const char *tedi_blas_corename(void) { return openblas_get_corename(); }

static const char *override_name = "";
const char *tedi_blas_core_override(void) { return override_name; }

#if defined(__x86_64__)
static int has_avx512_bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1;
}
#endif

static const char *preferred_core(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return has_avx512_bf16() ? "Cooperlake" : "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

static char override_buffer[32];

// glibc passes (argc, argv, envp) to ELF constructors; elsewhere the check does nothing.
__attribute__((constructor)) static void tedi_blas_core_check(int argc, char **argv, char **envp) {
    (void)argc; (void)envp;
#if defined(__GLIBC__)
    const char *again = getenv("TEDI_BLAS_CORE_OVERRIDE");
    if (again && *again) {
        // The re-executed process. OpenBLAS has read OPENBLAS_CORETYPE already; both variables
        // go, so child processes (other tedi runs, Slurm jobs started from here on other
        // machines) make their own check instead of inheriting this CPU's kernel choice.
        const char *name = openblas_get_corename();
        if (name && strcmp(name, "Prescott") != 0) {
            strncpy(override_buffer, again, sizeof override_buffer - 1);
            override_name = override_buffer;
        }
        unsetenv("TEDI_BLAS_CORE_OVERRIDE");
        unsetenv("OPENBLAS_CORETYPE");
        return;
    }
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *off = getenv("TEDI_BLAS_CORE_CHECK");
    if (off && strcmp(off, "0") == 0) return;
    // Started as `ld.so ./tedi …`: /proc/self/exe is the loader, so re-executing it would not work.
    if (getauxval(AT_BASE) == 0) return;
    const char *name = openblas_get_corename();
    if (!name || strcmp(name, "Prescott") != 0) return;
    const char *want = preferred_core();
    if (!want || !argv) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    if (setenv("TEDI_BLAS_CORE_OVERRIDE", want, 1) != 0) return;
    execv("/proc/self/exe", argv);
    // execv failed: carry on with the generic kernels, and leave no trace in the environment.
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("TEDI_BLAS_CORE_OVERRIDE");
#else
    (void)argv;
#endif
}

// The constructors below live in this file because a file of their own would be dropped by the
// linker (nothing refers to it).

void openblas_set_num_threads(int);

// OpenBLAS runs single-threaded from the start, whatever OPENBLAS_NUM_THREADS says: its threaded
// sgemm rounds differently at each thread count, so tedi splits products itself
// (Sources/TensorCore/Gemm.swift).
__attribute__((constructor)) static void tedi_blas_single_thread(void) { openblas_set_num_threads(1); }

// glibc serves allocations above M_MMAP_THRESHOLD (128 KiB, rising to at most 32 MiB as large
// blocks are freed) with fresh mmap'd pages and returns them with munmap. Every tensor op
// allocates its output, so a generator pass mapped, zero-filled by page fault and unmapped
// hundreds of megabytes per call (measured: a 37 MiB Winograd weight buffer cost 30 ms, almost
// all of it page faults). Serving them from the heap instead reuses freed memory without faults;
// peak RSS stays the peak of live tensors, since that memory was resident anyway.
#if defined(__GLIBC__)
#include <malloc.h>

__attribute__((constructor)) static void tedi_malloc_tuning(void) {
    // Some glibc versions cap the threshold (32 MiB); then no mmap at all.
    if (mallopt(M_MMAP_THRESHOLD, 1 << 30) != 1) mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
#endif
