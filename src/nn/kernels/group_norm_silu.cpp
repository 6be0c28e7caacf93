#include "nn/kernels/group_norm_silu.h"

#include "nn/shared_group_norm.h"
#include "runtime/cpu_features.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

namespace tokenflow::nn {

namespace {

#define TOKENFLOW_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) && defined(__GNUC__)
#define TOKENFLOW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TOKENFLOW_CLONES
#endif

TOKENFLOW_INLINE float to_float(float v) { return v; }
TOKENFLOW_INLINE float to_float(c10::BFloat16 v) {
  uint32_t bits = static_cast<uint32_t>(v.x) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

TOKENFLOW_INLINE void store(float* out, float v) { *out = v; }
// Round to nearest even, as c10::BFloat16 does (inputs here are never NaN unless the model is).
TOKENFLOW_INLINE void store(c10::BFloat16* out, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits += 0x7FFF + ((bits >> 16) & 1);
  out->x = static_cast<uint16_t>(bits >> 16);
}

// exp(x) by range reduction to 2^i * 2^f and a degree-5 polynomial for 2^f on [0, 1) (relative
// error about 2e-7): plain arithmetic, so the compiler vectorises the loops that use it.
TOKENFLOW_INLINE float fast_exp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float t = x * 1.44269504f;
  const float whole = std::floor(t);
  const float f = t - whole;
  float p = 1.8775767e-3f;
  p = p * f + 8.9893397e-3f;
  p = p * f + 5.5826318e-2f;
  p = p * f + 2.4015361e-1f;
  p = p * f + 6.9315308e-1f;
  p = p * f + 9.9999994e-1f;
  const int32_t exponent_bits = (static_cast<int32_t>(whole) + 127) << 23;
  float scale;
  std::memcpy(&scale, &exponent_bits, sizeof scale);
  return p * scale;
}

// Per-channel sums and sums of squares of `rows` pixels of C channels.
template <typename T>
TOKENFLOW_INLINE void accumulate(const T* x, int64_t rows, int64_t channels, float* sum, float* squares) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float v = to_float(row[c]);
      sum[c] += v;
      squares[c] += v * v;
    }
  }
}

template <typename T, bool kSilu>
TOKENFLOW_INLINE void normalize(const T* x, T* y, int64_t rows, int64_t channels, const float* scale,
                                const float* shift) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* in = x + r * channels;
    T* out = y + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      float v = to_float(in[c]) * scale[c] + shift[c];
      if (kSilu) v = v / (1.0f + fast_exp(-v));
      store(out + c, v);
    }
  }
}

TOKENFLOW_CLONES void accumulate_f32(const float* x, int64_t rows, int64_t channels, float* sum, float* squares) {
  accumulate(x, rows, channels, sum, squares);
}
TOKENFLOW_CLONES void accumulate_bf16(const c10::BFloat16* x, int64_t rows, int64_t channels, float* sum, float* squares) {
  accumulate(x, rows, channels, sum, squares);
}
TOKENFLOW_CLONES void normalize_f32(const float* x, float* y, int64_t rows, int64_t channels, const float* scale,
                                    const float* shift, bool silu) {
  silu ? normalize<float, true>(x, y, rows, channels, scale, shift)
       : normalize<float, false>(x, y, rows, channels, scale, shift);
}
TOKENFLOW_CLONES void normalize_bf16(const c10::BFloat16* x, c10::BFloat16* y, int64_t rows, int64_t channels,
                                     const float* scale, const float* shift, bool silu) {
  silu ? normalize<c10::BFloat16, true>(x, y, rows, channels, scale, shift)
       : normalize<c10::BFloat16, false>(x, y, rows, channels, scale, shift);
}

void accumulate_rows(const float* x, int64_t rows, int64_t channels, float* sum, float* squares) {
  accumulate_f32(x, rows, channels, sum, squares);
}
void accumulate_rows(const c10::BFloat16* x, int64_t rows, int64_t channels, float* sum, float* squares) {
  accumulate_bf16(x, rows, channels, sum, squares);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The bfloat16 output pass written with AVX-512 intrinsics. Compiled from the template above, GCC
// keeps 256-bit vectors, divides for the sigmoid (vdivps, where almost half of the pass's samples
// fell) and widens the bfloat16 rounding through several shuffles; the float32 pass, moving twice
// the bytes, took a third of the time. Here the sigmoid's reciprocal is vrcp14ps with one Newton
// step (relative error about 1e-7, far below bfloat16's 4e-3) and exp scales by vscalefps.
#define TOKENFLOW_AVX512 __attribute__((target("avx512f")))
// GCC 12 warns inside its own AVX-512 headers (the _mm512_undefined_* placeholders, its bug 105593).
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

TOKENFLOW_AVX512 TOKENFLOW_INLINE __m512 load_bf16x16(const c10::BFloat16* p) {
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(raw), 16));
}

// Round to nearest even, as store() above.
TOKENFLOW_AVX512 TOKENFLOW_INLINE void store_bf16x16(c10::BFloat16* p, __m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
}

// fast_exp above, sixteen lanes at a time.
TOKENFLOW_AVX512 TOKENFLOW_INLINE __m512 exp_x16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504f));
  const __m512 whole = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, whole);
  __m512 p = _mm512_set1_ps(1.8775767e-3f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(8.9893397e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5826318e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4015361e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9315308e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.9999994e-1f));
  return _mm512_scalef_ps(p, whole);
}

TOKENFLOW_AVX512 TOKENFLOW_INLINE __m512 silu_x16(__m512 v) {
  const __m512 denominator = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_x16(_mm512_sub_ps(_mm512_setzero_ps(), v)));
  __m512 r = _mm512_rcp14_ps(denominator);
  r = _mm512_mul_ps(r, _mm512_fnmadd_ps(denominator, r, _mm512_set1_ps(2.0f)));
  return _mm512_mul_ps(v, r);
}

template <bool kSilu>
TOKENFLOW_AVX512 void normalize_bf16_avx512(const c10::BFloat16* x, c10::BFloat16* y, int64_t rows, int64_t channels,
                                            const float* scale, const float* shift) {
  const int64_t vector_channels = channels - channels % 16;
  for (int64_t r = 0; r < rows; ++r) {
    const c10::BFloat16* in = x + r * channels;
    c10::BFloat16* out = y + r * channels;
    for (int64_t c = 0; c < vector_channels; c += 16) {
      __m512 v = _mm512_fmadd_ps(load_bf16x16(in + c), _mm512_loadu_ps(scale + c), _mm512_loadu_ps(shift + c));
      if (kSilu) v = silu_x16(v);
      store_bf16x16(out + c, v);
    }
    normalize<c10::BFloat16, kSilu>(in + vector_channels, out + vector_channels, 1, channels - vector_channels,
                                    scale + vector_channels, shift + vector_channels);
  }
}

// The float32 output pass likewise: GCC's own vectorisation of it divides for the sigmoid.
template <bool kSilu>
TOKENFLOW_AVX512 void normalize_f32_avx512(const float* x, float* y, int64_t rows, int64_t channels, const float* scale,
                                           const float* shift) {
  const int64_t vector_channels = channels - channels % 16;
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * channels;
    float* out = y + r * channels;
    for (int64_t c = 0; c < vector_channels; c += 16) {
      __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(in + c), _mm512_loadu_ps(scale + c), _mm512_loadu_ps(shift + c));
      if (kSilu) v = silu_x16(v);
      _mm512_storeu_ps(out + c, v);
    }
    normalize<float, kSilu>(in + vector_channels, out + vector_channels, 1, channels - vector_channels,
                            scale + vector_channels, shift + vector_channels);
  }
}

void normalize_rows(const c10::BFloat16* x, c10::BFloat16* y, int64_t rows, int64_t channels, const float* scale,
                    const float* shift, bool silu) {
  if (!cpu_has_avx512f()) return normalize_bf16(x, y, rows, channels, scale, shift, silu);
  silu ? normalize_bf16_avx512<true>(x, y, rows, channels, scale, shift)
       : normalize_bf16_avx512<false>(x, y, rows, channels, scale, shift);
}
void normalize_rows(const float* x, float* y, int64_t rows, int64_t channels, const float* scale, const float* shift,
                    bool silu) {
  if (!cpu_has_avx512f()) return normalize_f32(x, y, rows, channels, scale, shift, silu);
  silu ? normalize_f32_avx512<true>(x, y, rows, channels, scale, shift)
       : normalize_f32_avx512<false>(x, y, rows, channels, scale, shift);
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
void normalize_rows(const float* x, float* y, int64_t rows, int64_t channels, const float* scale, const float* shift,
                    bool silu) {
  normalize_f32(x, y, rows, channels, scale, shift, silu);
}
void normalize_rows(const c10::BFloat16* x, c10::BFloat16* y, int64_t rows, int64_t channels, const float* scale,
                    const float* shift, bool silu) {
  normalize_bf16(x, y, rows, channels, scale, shift, silu);
}
#endif

// Pixels summed in float before being added to the double totals: short enough to keep float
// rounding negligible, long enough to amortise the flush.
constexpr int64_t kAccumulateRows = 64;

// One sample is `segments` runs of `pixels` x `segment_channels` values, channel s * segment_channels + c
// at [s][pixel][c]: one run of all channels for channels-last, C/16 runs of 16 for the blocked layout.
struct SampleLayout {
  int64_t segments = 1, pixels = 0, segment_channels = 0;
  int64_t channels() const { return segments * segment_channels; }
  int64_t size() const { return segments * pixels * segment_channels; }
  int64_t offset(int64_t segment, int64_t pixel) const { return (segment * pixels + pixel) * segment_channels; }
};

template <typename T>
void group_norm_sample(const T* x, T* y, const SampleLayout& layout, int64_t groups, const float* gamma,
                       const float* beta, double eps, bool silu) {
  const int64_t channels = layout.channels(), width = layout.segment_channels, per_group = channels / groups;
  std::vector<double> sum(channels, 0.0), squares(channels, 0.0);
  std::mutex merge;
  at::parallel_for(0, layout.pixels, kAccumulateRows * 4, [&](int64_t begin, int64_t end) {
    std::vector<double> local_sum(channels, 0.0), local_squares(channels, 0.0);
    std::vector<float> block_sum(channels), block_squares(channels);
    for (int64_t start = begin; start < end; start += kAccumulateRows) {
      std::fill(block_sum.begin(), block_sum.end(), 0.0f);
      std::fill(block_squares.begin(), block_squares.end(), 0.0f);
      for (int64_t s = 0; s < layout.segments; ++s) {
        accumulate_rows(x + layout.offset(s, start), std::min(kAccumulateRows, end - start), width,
                        block_sum.data() + s * width, block_squares.data() + s * width);
      }
      for (int64_t c = 0; c < channels; ++c) {
        local_sum[c] += block_sum[c];
        local_squares[c] += block_squares[c];
      }
    }
    std::lock_guard<std::mutex> lock(merge);
    for (int64_t c = 0; c < channels; ++c) {
      sum[c] += local_sum[c];
      squares[c] += local_squares[c];
    }
  });
  std::vector<float> scale(channels), shift(channels);
  const double count = static_cast<double>(layout.pixels * per_group);
  for (int64_t g = 0; g < groups; ++g) {
    double s = 0, q = 0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
      s += sum[c];
      q += squares[c];
    }
    const double mean = s / count;
    const double rstd = 1.0 / std::sqrt(std::max(q / count - mean * mean, 0.0) + eps);
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
      scale[c] = static_cast<float>(rstd * gamma[c]);
      shift[c] = static_cast<float>(beta[c] - mean * rstd * gamma[c]);
    }
  }
  at::parallel_for(0, layout.pixels, kAccumulateRows * 4, [&](int64_t begin, int64_t end) {
    for (int64_t s = 0; s < layout.segments; ++s) {
      normalize_rows(x + layout.offset(s, begin), y + layout.offset(s, begin), end - begin, width,
                     scale.data() + s * width, shift.data() + s * width, silu);
    }
  });
}

template <typename T>
void group_norm_batch(const T* x, T* y, int64_t batch, const SampleLayout& layout, int64_t groups, const float* gamma,
                      const float* beta, double eps, bool silu) {
  for (int64_t n = 0; n < batch; ++n) {
    group_norm_sample(x + n * layout.size(), y + n * layout.size(), layout, groups, gamma, beta, eps, silu);
  }
}

torch::Tensor run(const torch::Tensor& x, const SampleLayout& layout, int groups, const torch::Tensor& gamma,
                  const torch::Tensor& beta, double eps, bool silu) {
  TORCH_CHECK(layout.channels() % groups == 0, "channels not divisible by groups");
  auto out = torch::empty_like(x);
  auto g = gamma.to(torch::kFloat32).contiguous(), b = beta.to(torch::kFloat32).contiguous();
  if (x.scalar_type() == torch::kBFloat16) {
    group_norm_batch(x.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>(), x.size(0), layout, groups,
                     g.data_ptr<float>(), b.data_ptr<float>(), eps, silu);
  } else {
    TORCH_CHECK(x.scalar_type() == torch::kFloat32, "group_norm: float32 or bfloat16 only");
    group_norm_batch(x.data_ptr<float>(), out.data_ptr<float>(), x.size(0), layout, groups, g.data_ptr<float>(),
                     b.data_ptr<float>(), eps, silu);
  }
  return out;
}

torch::Tensor run_channels_last(const torch::Tensor& x, int groups, const torch::Tensor& gamma, const torch::Tensor& beta,
                                double eps, bool silu) {
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous(torch::MemoryFormat::ChannelsLast) && x.device().is_cpu(),
              "group_norm_channels_last expects a channels-last CPU tensor");
  return run(x, {1, x.size(2) * x.size(3), x.size(1)}, groups, gamma, beta, eps, silu);
}

// LibTorch's own float32 channels-last GroupNorm is right; with the AVX-512 output pass this kernel
// is faster still (5.9 against 7.5 ms for GroupNorm + SiLU on a 256 x 256 x 256 map here,
// `tokenflow_bench_kernels --benchmark_filter=GroupNorm`), so it serves both types. It has no
// backward: where gradients are recorded, LibTorch's ops run.
bool fused_kernel_applies(const torch::Tensor& x) {
  return !torch::GradMode::is_enabled() && x.dim() == 4 && x.device().is_cpu() && x.is_contiguous(torch::MemoryFormat::ChannelsLast) &&
         !x.is_contiguous() && (x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kFloat32);
}

}  // namespace

torch::Tensor group_norm_channels_last(const torch::Tensor& x, int groups, const torch::Tensor& gamma,
                                       const torch::Tensor& beta, double eps) {
  return run_channels_last(x, groups, gamma, beta, eps, false);
}

torch::Tensor group_norm_silu_channels_last(const torch::Tensor& x, int groups, const torch::Tensor& gamma,
                                            const torch::Tensor& beta, double eps) {
  return run_channels_last(x, groups, gamma, beta, eps, true);
}

torch::Tensor group_norm_silu_blocked(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 5 && x.is_contiguous() && x.device().is_cpu(), "group_norm_silu_blocked expects N x C/B x H x W x B");
  const auto& o = norm->options;
  return run(x, {x.size(1), x.size(2) * x.size(3), x.size(4)}, static_cast<int>(o.num_groups()), norm->weight, norm->bias,
             o.eps(), true);
}

namespace {

torch::Tensor own_group_norm_silu(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  if (!fused_kernel_applies(x)) return torch::silu(norm(x));
  const auto& o = norm->options;
  return group_norm_silu_channels_last(x, static_cast<int>(o.num_groups()), norm->weight, norm->bias, o.eps());
}

torch::Tensor own_group_norm(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  if (!fused_kernel_applies(x)) return norm(x);
  const auto& o = norm->options;
  return group_norm_channels_last(x, static_cast<int>(o.num_groups()), norm->weight, norm->bias, o.eps());
}

}  // namespace

torch::Tensor group_norm_silu(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  auto* shared = SharedGroupNormStatistics::active();
  if (shared && !shared->recording()) return shared->apply(norm, x, /*silu=*/true);
  if (shared) shared->record(x);
  return own_group_norm_silu(norm, x);
}

torch::Tensor group_norm(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  auto* shared = SharedGroupNormStatistics::active();
  if (shared && !shared->recording()) return shared->apply(norm, x, /*silu=*/false);
  if (shared) shared->record(x);
  return own_group_norm(norm, x);
}

}  // namespace tokenflow::nn
