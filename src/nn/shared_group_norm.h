#pragma once
// GroupNorm statistics shared by the tiles of a tiled decoding. GroupNorm normalises by the mean and
// variance of a whole map; a tile alone sees only its part and comes out in another tone. So tiled
// decoding runs twice: a first pass records every GroupNorm layer's sums over all tiles (each tile
// normalised by its own statistics meanwhile), a second normalises every tile by those totals.
#include <torch/torch.h>

#include <vector>

namespace tokenflow::nn {

class SharedGroupNormStatistics {
 public:
  enum class Mode { Record, Apply };

  // While a Scope lives, nn::group_norm and nn::group_norm_silu on this thread record into or apply
  // `statistics`, layer by layer in call order (every tile calls the same layers in the same order).
  class Scope {
   public:
    Scope(SharedGroupNormStatistics& statistics, Mode mode);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    SharedGroupNormStatistics* previous_;
  };

  static SharedGroupNormStatistics* active();  // the innermost Scope's, or null

  // Starts a tile: the next call is the first GroupNorm layer again.
  void start_tile() { layer_ = 0; }
  bool recording() const { return mode_ == Mode::Record; }

  // Recording: adds x's sums to the next layer's totals (the caller normalises x by its own).
  void record(const torch::Tensor& x);
  // Applying: `norm` applied to x with the next layer's totals, then SiLU when `silu`.
  torch::Tensor apply(torch::nn::GroupNorm& norm, const torch::Tensor& x, bool silu);

 private:
  struct Layer {
    torch::Tensor sums, squares;  // B x C, float64
    double count = 0;             // positions summed per channel
  };
  Mode mode_ = Mode::Record;
  size_t layer_ = 0;
  std::vector<Layer> layers_;
};

}  // namespace tokenflow::nn
