// What this machine computes natively, and the allocator setting that lets large tensors run at speed.
#include "runtime/cpu_features.h"

#include <tokenflow/runtime.h>

#include <torch/torch.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <limits>

namespace tokenflow {

namespace {

// AVX512_BF16 is CPUID leaf 7, sub-leaf 1, EAX bit 5; AMX-BF16 is leaf 7, sub-leaf 0, EDX bit 22.
bool cpu_has_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  const bool avx512_bf16 = eax & (1u << 5);
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool amx_bf16 = edx & (1u << 22);
  return avx512_bf16 || amx_bf16;
#else
  return false;
#endif
}

}  // namespace

bool cpu_has_avx512f() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
#else
  return false;
#endif
}

bool cpu_has_avx512_core() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  static const bool has = cpu_has_avx512f() && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return has;
#else
  return false;
#endif
}

void reuse_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);                              // large blocks from the heap, not fresh mmaps
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());  // and never handed back
  mallopt(M_TOP_PAD, 256 << 20);                       // grow the heap in large steps
#endif
}

bool native_bf16(const std::string& device) {
  return torch::Device(device).is_cuda() ? true : cpu_has_bf16();
}

}  // namespace tokenflow
