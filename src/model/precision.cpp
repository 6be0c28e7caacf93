// Choosing the arithmetic (parsing, whether bfloat16 is native here) and the memory setting that
// lets it run at speed.
#include <tokenflow/tokenflow.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <limits>

namespace tokenflow {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::Fp32;
  if (name == "bf16") return Precision::Bf16;
  if (name == "mixed") return Precision::Mixed;
  if (name == "auto") return Precision::Auto;
  throw Error("unknown precision '" + name + "' (fp32, bf16, mixed or auto)");
}

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
    case Precision::Mixed: return "mixed";
    case Precision::Auto: break;
  }
  return "auto";
}

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
