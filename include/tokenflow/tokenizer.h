#pragma once
// The TokenFlow image tokenizer (Qu et al., CVPR 2025): images to multi-scale token indices and back.
//
//   auto model = tokenflow::Model::load("tokenflow_clipb_32k_enhanced.pt");
//   auto enc = model.encode(images);               // images: B x 3 x H x W in [-1, 1]
//   auto recon = model.decode_indices(enc.indices);
//
// All sizes are read from the checkpoint's tensors; nothing is tied to the released widths.
//
// Thread safety: a loaded Model may be used by several threads at once; encode, decode and the other
// const methods keep no state between calls. Loading, moving and set_progress are not to run beside
// other calls on the same Model.
#include <tokenflow/error.h>

#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tokenflow {

namespace model {
class ModelFromState;
}

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

// The number formats of the networks (arithmetic only; the algorithms are chosen below).
//   Fp32:  float32 throughout.
//   Bf16:  bfloat16 weights and activations with float32 accumulation in encoders and decoders.
//   Mixed: float32 encoders, bfloat16 decoders.
//   Auto:  Mixed where the device computes bfloat16 natively (native_bf16), else Fp32.
// The quantizer and its residuals are float32 in every mode. docs/performance.md measures each mode's
// speed and its fidelity to Fp32 (tokens kept, PSNR of the decoded images).
enum class Precision { Auto, Fp32, Bf16, Mixed };

// How the codebook is searched at each scale.
//   Distances:  the official formula, argmin(w * d_sem + d_pix) over squared L2 distances; exact.
//   Similarity: the same nearest entries as one product per entry, argmax(w * z_sem.e_sem +
//               z_pix.e_pix) of the normalised halves; equal up to float32 rounding and ties.
//   Auto:       Distances in Fp32, Similarity otherwise.
enum class CodeSearch { Auto, Distances, Similarity };

// How the float32 pixel encoder convolves on the CPU.
//   LibTorch: LibTorch's convolutions in the official NCHW layout; exact.
//   Winograd: oneDNN's Winograd convolutions in its blocked layout, where this build has oneDNN and
//             oneDNN has Winograd kernels for the CPU (AVX-512), else LibTorch; within float32
//             rounding of LibTorch's. Model::options() says which runs.
//   Auto:     Winograd in Mixed, LibTorch otherwise.
enum class PixelConvolution { Auto, LibTorch, Winograd };

struct LoadOptions {
  // The library's default and the CLI's are the same: Auto (docs/performance.md for the fidelity).
  // Parity with the official code is Fp32 with the Auto algorithms it implies.
  Precision precision = Precision::Auto;
  CodeSearch code_search = CodeSearch::Auto;
  PixelConvolution pixel_convolution = PixelConvolution::Auto;
  // The transformers' float32 products on the CPU through oneDNN (1x1 convolutions) rather than
  // at::linear / at::matmul: faster, equal up to float32 rounding. Off reproduces the official op
  // sequence; the benchmark's baseline turns it off.
  bool onednn_gemm = true;
  std::string device = "cpu";  // or "cuda", "cuda:1", ... with a CUDA build of LibTorch
  // Results (indices, features, images) on the CPU, whatever the device; true leaves them on the
  // model's device, for callers that feed them to more GPU work.
  bool results_on_device = false;
  // Tiled decoding: the pixel decoder's upsampling part runs on tiles of tile x tile feature
  // positions, overlapping and blended without seams, so its large maps exist for one tile at a time.
  // Close to the whole decoding, not equal to it, and slower. 0: whole; otherwise at least 2.
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

// Reported at each stage of a call: the call's name ("encode", "decode", ...), the stage that is about
// to run, and how many of the call's stages are done out of `total`. Returning false cancels the call,
// which then throws tokenflow::Cancelled before that stage. Called on the calling thread.
struct Progress {
  std::string call;
  std::string stage;
  int done = 0;
  int total = 0;
};
using ProgressCallback = std::function<bool(const Progress&)>;

Precision parse_precision(const std::string& name);  // "fp32", "bf16", "mixed" or "auto"
std::string precision_name(Precision precision);    // the inverse
CodeSearch parse_code_search(const std::string& name);  // "distances", "similarity" or "auto"
std::string code_search_name(CodeSearch search);
PixelConvolution parse_pixel_convolution(const std::string& name);  // "libtorch", "winograd" or "auto"
std::string pixel_convolution_name(PixelConvolution convolution);

class Model {
 public:
  // Throws tokenflow::Error naming the file for a missing, corrupt, truncated or foreign checkpoint.
  static Model load(const std::string& path, const LoadOptions& options = {});
  // A released architecture ("clipb256e" or "siglip384") with random weights, for benchmarks.
  static Model random(const std::string& architecture, uint64_t seed = 0, const LoadOptions& options = {});
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const ModelConfig& config() const;
  // The options as resolved at load: no Auto left, the device named.
  const LoadOptions& options() const;
  Precision precision() const;  // options().precision
  // The provenance a .safetensors checkpoint records in its "__metadata__" map (training data,
  // steps, date, ... as `tokenflow convert --metadata` wrote them). A tokenflow training checkpoint
  // (.pt) gives the attention heads it records (tokenflow.semantic_heads, tokenflow.semantic_decoder_heads);
  // other checkpoints give nothing.
  const std::map<std::string, std::string>& metadata() const;
  // Called at each stage of every later call (Progress). An empty callback removes it.
  void set_progress(ProgressCallback callback);

  // Continuous features before quantisation.
  torch::Tensor semantic_features(const torch::Tensor& images) const;  // B x 32 x h x w
  torch::Tensor pixel_features(const torch::Tensor& images) const;     // B x 8 x h x w

  EncodeResult encode(const torch::Tensor& images) const;
  // The codebook as the official get_codebook_entry looks entries up: K x (semantic+pixel), each half
  // L2-normalised. Float32, on the model's device.
  torch::Tensor codebook() const;
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
  friend class model::ModelFromState;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokenflow
