#pragma once
// The instruction sets of this CPU, for the layers' kernels that choose a path by them.

namespace tokenflow {

bool cpu_has_avx512f();
// AVX-512 F with BW, VL and DQ: what oneDNN's AVX-512 kernels need, and so what LibTorch asks
// before it hands bfloat16 products to oneDNN.
bool cpu_has_avx512_core();

}  // namespace tokenflow
