#pragma once
// tokenflow: the TokenFlow image tokenizer (Qu et al., CVPR 2025) on LibTorch.
//
//   auto model = tokenflow::Model::load("tokenflow_clipb_32k_enhanced.pt");
//   auto enc = model.encode(images);               // images: B x 3 x H x W in [-1, 1]
//   auto recon = model.decode_indices(enc.indices);
//
// All sizes are read from the checkpoint's tensors; nothing is tied to the released widths.
#include <tokenflow/error.h>

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tokenflow {

enum class Teacher { Clip, Siglip };

// What a checkpoint holds, as detected from its tensors.
struct ModelConfig {
  Teacher teacher = Teacher::Clip;
  int image_size = 0;              // input images are image_size x image_size
  std::vector<int> scales;         // multi-scale residual quantisation, coarse to fine
  int tokens_per_image = 0;        // sum of scale^2
  int codebook_size = 0;
  int semantic_code_dim = 0;       // 32 in the released models
  int pixel_code_dim = 0;          // 8 in the released models
  // Semantic encoder (teacher-initialised ViT).
  int semantic_width = 0, semantic_layers = 0, semantic_heads = 0, semantic_patch = 0;
  // Semantic decoder (BEiT-style ViT) and its output (teacher feature) width.
  int semantic_decoder_width = 0, semantic_decoder_layers = 0, semantic_decoder_heads = 0;
  int semantic_output_dim = 0;
  // Pixel VQGAN.
  int encoder_ch = 0, decoder_ch = 0, z_channels = 0;
  std::vector<int> encoder_ch_mult, decoder_ch_mult;
  int encoder_res_blocks = 0, decoder_res_blocks = 0;
  int pixel_image_size = 0;        // the pixel branch's input size (432 for SigLIP at 384)
  int64_t parameter_count = 0;

  int grid() const { return scales.empty() ? 0 : scales.back(); }
  int code_dim() const { return semantic_code_dim + pixel_code_dim; }
  std::string teacher_name() const { return teacher == Teacher::Clip ? "clip" : "siglip"; }
};

// Arithmetic of the networks. The quantizer always searches the codebook in float32.
//   Fp32:  exact; reproduces the official code (parity fixtures).
//   Bf16:  bfloat16 weights and activations with float32 accumulation, much faster where the CPU has
//          AVX-512 BF16 (or on CUDA). It decodes the same tokens 55-57 dB PSNR from Fp32's images
//          on photographs through a trained model (36-44 dB with random weights), but the
//          encoders' rounding flips many fine-scale tokens (docs/performance.md).
//   Mixed: float32 encoders and bfloat16 decoders. The encoding is Fp32's but for rounding: the
//          pixel encoder through oneDNN's Winograd convolutions where the build has oneDNN, and the
//          codebook searched by similarity (one product per entry, not the official distances);
//          on photographs through a trained model every token matched Fp32's (docs/performance.md).
//   Auto:  the fastest of these that keeps the fidelity bar of docs/performance.md (at least 99%
//          identical tokens, decoded images within 40 dB): Mixed where the hardware computes
//          bfloat16 natively, else Fp32.
enum class Precision { Auto, Fp32, Bf16, Mixed };

struct LoadOptions {
  Precision precision = Precision::Fp32;
  std::string device = "cpu";  // or "cuda", "cuda:1", ... with a CUDA build of LibTorch
  // Tiled decoding: the pixel decoder's upsampling part runs on tiles of tile x tile feature
  // positions (a position is 16 x 16 pixels in the released models), overlapping and blended without
  // seams, so its large maps exist for one tile at a time. Close to the whole decoding, not equal to
  // it, and several times slower (docs/performance.md). 0: whole; otherwise at least 2.
  int tile = 0;
  // Attention heads are not stored in a state dict. 0 = the count the checkpoint records (tokenflow's
  // own: training checkpoints and their safetensors exports), else the official count for the
  // released widths, else 32-dimensional heads.
  int semantic_heads = 0;
  int semantic_decoder_heads = 0;
  // Input resolution for CLIP checkpoints; 0 = the resolution of the position table, except that
  // a CLIP-B/16 checkpoint with an enhanced decoder runs at 256 (official `infer_interpolate`).
  int image_size = 0;
};

struct EncodeResult {
  torch::Tensor indices;   // B x L int64, scales concatenated coarse to fine, row-major per scale
  torch::Tensor features;  // B x (semantic+pixel) x h x w quantised features (sum over scales)
};

Precision parse_precision(const std::string& name);  // "fp32", "bf16", "mixed" or "auto"
std::string precision_name(Precision precision);    // the inverse
// Whether this machine computes bfloat16 natively (AVX-512 BF16 / AMX on CPU, or a CUDA device).
bool native_bf16(const std::string& device);

// Makes glibc keep freed memory for reuse instead of unmapping it. Every large tensor is otherwise a
// fresh mmap whose pages fault in on first touch; on the VMs measured here that made a channels-last
// 2x upsample of a 256 x 128 x 128 map take 112 ms instead of 1 ms. Process-wide, so it is the
// application's call; the CLI and the benchmarks make it. No effect on other C libraries.
void reuse_freed_memory();

// Keeps OpenBLAS to one thread. LibTorch's intra-op pool (OpenMP) already occupies the cores, and
// OpenBLAS's own pthread pool (Debian's libopenblas0-pthread) waiting beside it made the float32 code
// search vary from 0.04 to 0.39 s per clipb256e encode here; on one thread it took 0.04-0.06 s.
// Process-wide, so it is the application's call; the CLI's inference commands and the benchmark
// make it. No effect where LibTorch's BLAS is not OpenBLAS.
void single_threaded_blas();

// The physical CPU cores this process may use: its CPU affinity, SMT siblings counted once, within a
// cgroup v2 CPU limit when one is set (containers); std::thread::hardware_concurrency() where the
// system says nothing. At least 1.
int cpu_cores();

// Sets the number of threads LibTorch uses for intra-op parallelism; 0 means cpu_cores().
// LibTorch's own default counts cores through cpuinfo, which can undercount under virtualisation:
// it chose 1 thread on the 2-core VM this was measured on, halving the speed (clipb256e mixed encode
// 0.95 s against 0.46 s on 2 threads).
void set_num_threads(int threads);

// The checkpoint to use when none is named: the environment variable TOKENFLOW_MODEL when it is set
// and not empty, else the model that ships with the project, models/tokenflow-small.safetensors in
// the source tree this library was built from (compiled in, so an installed binary still finds it
// while the checkout stays where it was). The file may not exist; callers check.
std::string default_model_path();

class Model {
 public:
  static Model load(const std::string& path, const LoadOptions& options = {});
  // A released architecture ("clipb256e" or "siglip384") with random weights, for benchmarks.
  static Model random(const std::string& architecture, uint64_t seed = 0, const LoadOptions& options = {});
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const ModelConfig& config() const;
  Precision precision() const;  // Fp32, Bf16 or Mixed, as resolved at load
  // The provenance a .safetensors checkpoint records in its "__metadata__" map (training data,
  // steps, date, ... as `tokenflow convert --metadata` wrote them). A tokenflow training checkpoint
  // (.pt) gives the attention heads it records (tokenflow.semantic_heads, tokenflow.semantic_decoder_heads);
  // other checkpoints give nothing.
  const std::map<std::string, std::string>& metadata() const;

  // Continuous features before quantisation.
  torch::Tensor semantic_features(const torch::Tensor& images) const;  // B x 32 x h x w
  torch::Tensor pixel_features(const torch::Tensor& images) const;     // B x 8 x h x w

  EncodeResult encode(const torch::Tensor& images) const;
  // Indices (B x L, L = tokens_per_image or a prefix of whole scales) -> quantised features.
  torch::Tensor indices_to_features(const torch::Tensor& indices) const;
  // Quantised features B x 40 x h x w -> images B x 3 x H x W in about [-1, 1].
  torch::Tensor decode_features(const torch::Tensor& features) const;
  torch::Tensor decode_indices(const torch::Tensor& indices) const;
  // Quantised features -> the semantic decoder's reconstruction of the teacher's patch features,
  // B x (h*w) x semantic_output_dim.
  torch::Tensor semantic_reconstruction(const torch::Tensor& features) const;
  // The understanding features as the official LLaVA code feeds its projector: B x (h*w) x 40.
  torch::Tensor understanding_features(const torch::Tensor& images) const;
  // The same from already quantised features (EncodeResult::features): b c h w -> b (h w) c.
  static torch::Tensor understanding_layout(const torch::Tensor& features);

  struct Impl;  // opaque

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokenflow
