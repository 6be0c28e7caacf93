#include "nn/kernels/int8_matvec.h"

#include <ATen/Parallel.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>

namespace tokenflow::nn {

namespace {

// The most rows one pass over the weights serves; more rows take another pass.
constexpr int64_t kRowsPerPass = 4;

void dot_rows_portable(const float* x, int64_t rows, const int8_t* w, int64_t in, float* sums) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    float sum = 0;
    for (int64_t i = 0; i < in; ++i) sum += static_cast<float>(w[i]) * xr[i];
    sums[r] = sum;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 v) {
  const __m128 low = _mm256_castps256_ps128(v), high = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(low, high);
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  return _mm_cvtss_f32(s);
}

// One weight row against `Rows` rows of x: 32 int8 weights widened to four vectors of 8 floats per
// step, each used by every row. Rows is a template argument so that the accumulators stay in
// registers (four per row, independent, to hide the multiply-add latency).
template <int Rows>
__attribute__((target("avx2,fma"))) void dot_rows_avx2(const float* x, const int8_t* w, int64_t in, float* sums) {
  __m256 acc[Rows][4];
  for (int r = 0; r < Rows; ++r) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= in; i += 32) {
    const __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i));
    const __m128i second = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 16));
    const __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(first));
    const __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(first, 8)));
    const __m256 w2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(second));
    const __m256 w3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(second, 8)));
    for (int r = 0; r < Rows; ++r) {
      const float* xr = x + r * in + i;
      acc[r][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr), acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), acc[r][1]);
      acc[r][2] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xr + 16), acc[r][2]);
      acc[r][3] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xr + 24), acc[r][3]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3])));
    const float* xr = x + r * in;
    for (int64_t j = i; j < in; ++j) sum += static_cast<float>(w[j]) * xr[j];
    sums[r] = sum;
  }
}

bool has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

void dot_rows(const float* x, int64_t rows, const int8_t* w, int64_t in, float* sums) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_avx2()) {
    switch (rows) {
      case 1: return dot_rows_avx2<1>(x, w, in, sums);
      case 2: return dot_rows_avx2<2>(x, w, in, sums);
      case 3: return dot_rows_avx2<3>(x, w, in, sums);
      default: return dot_rows_avx2<4>(x, w, in, sums);
    }
  }
#endif
  dot_rows_portable(x, rows, w, in, sums);
}

}  // namespace

void int8_matvec(const float* x, int64_t rows, const int8_t* weight, const float* scale, const float* bias, int64_t out,
                 int64_t in, float* y) {
  // Enough output channels per task that each reads a few hundred kilobytes of weights.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(in, 1));
  at::parallel_for(0, out, grain, [&](int64_t begin, int64_t end) {
    float sums[kRowsPerPass];
    for (int64_t first = 0; first < rows; first += kRowsPerPass) {
      const auto count = std::min(kRowsPerPass, rows - first);
      for (int64_t o = begin; o < end; ++o) {
        dot_rows(x + first * in, count, weight + o * in, in, sums);
        for (int64_t r = 0; r < count; ++r) {
          y[(first + r) * out + o] = sums[r] * scale[o] + (bias != nullptr ? bias[o] : 0.0f);
        }
      }
    }
  });
}

}  // namespace tokenflow::nn
