#pragma once
// The product of a few float32 rows with an int8 matrix scaled per output channel, read once from
// memory: what decoding one token with weight-only int8 costs (the weights' bytes, not their
// arithmetic, bound it).
#include <cstdint>

namespace tokenflow::nn {

// y[r][o] = scale[o] * sum_i weight[o][i] * x[r][i] (+ bias[o] when bias is not null), for r < rows,
// o < out; weight is out x in, row-major; x is rows x in and y rows x out, both contiguous. Runs
// on LibTorch's threads over the output channels, with AVX2 where the CPU has it.
void int8_matvec(const float* x, int64_t rows, const int8_t* weight, const float* scale, const float* bias, int64_t out,
                 int64_t in, float* y);

}  // namespace tokenflow::nn
