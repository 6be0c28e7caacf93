#include "eval/tokenizer_evaluation.h"

#include <tokenflow/error.h>

#include "eval/image_quality.h"
#include "io/image.h"
#include "io/shape_string.h"
#include "nn/weights.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace tokenflow::eval {

namespace {

double mean_of(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// numpy.median: the middle value, or the mean of the middle two.
double median_of(std::vector<double> values) {
  const size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  const double upper = values[middle];
  if (values.size() % 2 == 1) return upper;
  return (*std::max_element(values.begin(), values.begin() + middle) + upper) / 2;
}

// What the semantic side gathers over the batches.
struct SemanticTotals {
  double cosine_sum = 0;
  int64_t patches = 0;
  std::vector<CaptionedImage> captioned;  // evaluated images with captions, in order
  std::vector<torch::Tensor> teacher_embeddings, token_embeddings;
  int64_t uncaptioned = 0;
};

// Semantic fidelity and the retrieval embeddings of one batch. `paths` are the batch's evaluated images.
void add_semantic_batch(EvaluationTeacher::Networks& teacher, const std::map<std::string, const CaptionedImage*>& captions_of,
                        const std::vector<std::string>& paths, const torch::Tensor& images,
                        const torch::Tensor& semantic, SemanticTotals& totals) {
  namespace F = torch::nn::functional;
  const auto targets = teacher.image_tower->targets(images).to(torch::kFloat32);
  if (targets.sizes() != semantic.sizes()) {
    throw Error("semantic fidelity: the teacher's patch features are " + io::shape_string(targets.sizes()) +
                ", the model's semantic reconstruction " + io::shape_string(semantic.sizes()) +
                " (batch x patches x width); the model was not trained with this teacher at this size");
  }
  const auto cosine = F::cosine_similarity(semantic, targets, F::CosineSimilarityFuncOptions().dim(-1));
  totals.cosine_sum += cosine.to(torch::kFloat64).sum().item<double>();
  totals.patches += cosine.numel();
  if (!teacher.clip) return;
  std::vector<int64_t> rows;
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto found = captions_of.find(paths[i]);
    if (found == captions_of.end()) {
      ++totals.uncaptioned;
      continue;
    }
    rows.push_back(static_cast<int64_t>(i));
    totals.captioned.push_back(*found->second);
  }
  if (rows.empty()) return;
  const auto selected = torch::tensor(rows, torch::kInt64);
  // The mean of the teacher's patch features is its CLIP's encode_image: no second pass of the tower.
  totals.teacher_embeddings.push_back(targets.index_select(0, selected).mean(1));
  totals.token_embeddings.push_back(semantic.index_select(0, selected).mean(1));
}

CaptionRetrieval caption_retrieval(model::TrainedClip& clip, SemanticTotals& totals, int64_t batch_size) {
  if (totals.captioned.empty()) throw Error("caption retrieval: none of the evaluated images has a caption");
  const auto candidates = caption_candidates(totals.captioned);
  const auto captions = caption_embeddings(*clip.model, clip.tokenizer, candidates.captions, batch_size);
  CaptionRetrieval retrieval;
  retrieval.uncaptioned = totals.uncaptioned;
  retrieval.teacher = retrieval_accuracy(torch::cat(totals.teacher_embeddings), captions, candidates.relevant);
  retrieval.tokens = retrieval_accuracy(torch::cat(totals.token_embeddings), captions, candidates.relevant);
  return retrieval;
}

}  // namespace

CodebookUsage codebook_usage(const torch::Tensor& histogram) {
  if (histogram.dim() != 1 || histogram.numel() == 0) {
    throw Error("codebook usage: expected one count per codebook entry, got " + io::shape_string(histogram.sizes()));
  }
  const auto counts = histogram.to(torch::kFloat64);
  if ((counts < 0).any().item<bool>()) throw Error("codebook usage: negative counts");
  CodebookUsage usage;
  usage.tokens = static_cast<int64_t>(counts.sum().item<double>());
  usage.entries_used = (counts > 0).sum().item<int64_t>();
  usage.fraction_used = static_cast<double>(usage.entries_used) / static_cast<double>(counts.numel());
  if (usage.tokens == 0) return usage;
  const auto used = counts.masked_select(counts > 0) / counts.sum();
  usage.perplexity = std::exp(-(used * used.log()).sum().item<double>());
  return usage;
}

TokenizerEvaluation evaluate_tokenizer(const Model& model, const std::vector<std::string>& images,
                                       const EvaluationTeacher* handle, const TokenizerEvaluationOptions& options) {
  EvaluationTeacher::Networks* teacher = handle ? &handle->networks() : nullptr;
  if (options.batch_size < 1) throw Error("evaluation: the batch size must be positive, got " + std::to_string(options.batch_size));
  if (images.empty()) throw Error("evaluation: no images");
  if (teacher && !teacher->image_tower) throw Error("evaluation: the teacher has no image tower");
  torch::NoGradGuard no_grad;
  const ModelConfig& config = model.config();
  const int64_t codebook = config.codebook_size;
  const int64_t last_scale_tokens = int64_t{config.grid()} * config.grid();
  std::map<std::string, const CaptionedImage*> captions_of;
  if (teacher) {
    for (const auto& image : teacher->captioned) captions_of.emplace(image.path, &image);
  }

  TokenizerEvaluation result;
  result.tokens_per_image = config.tokens_per_image;
  result.codebook_size = codebook;
  std::vector<double> psnr, ssim;
  auto histogram = torch::zeros({codebook}, torch::kInt64);
  auto last_scale_histogram = torch::zeros({codebook}, torch::kInt64);
  SemanticTotals semantic;
  std::vector<torch::Tensor> sheet_originals, sheet_reconstructions;
  int64_t sheet_kept = 0;

  const auto count = static_cast<int64_t>(images.size());
  for (int64_t first = 0; first < count; first += options.batch_size) {
    const int64_t last = std::min(count, first + options.batch_size);
    const std::vector<std::string> paths(images.begin() + first, images.begin() + last);
    auto batch = io::load_images(paths, config.image_size);
    result.unreadable.insert(result.unreadable.end(), batch.errors.begin(), batch.errors.end());
    if (batch.images.defined()) {
      const auto encoded = model.encode(batch.images);
      // As `tokenflow reconstruct` decodes: from the indices, all scales.
      const auto reconstruction = model.decode_indices(encoded.indices);
      const auto batch_psnr = psnr_per_image(batch.images, reconstruction, true);
      const auto batch_ssim = ssim_per_image(batch.images, reconstruction);
      psnr.insert(psnr.end(), batch_psnr.begin(), batch_psnr.end());
      ssim.insert(ssim.end(), batch_ssim.begin(), batch_ssim.end());
      const auto indices = encoded.indices.to(torch::kInt64);
      histogram += torch::bincount(indices.flatten(), {}, codebook);
      last_scale_histogram += torch::bincount(indices.slice(1, indices.size(1) - last_scale_tokens).flatten(), {}, codebook);
      if (teacher) {
        std::vector<std::string> evaluated;
        for (size_t i : batch.readable) evaluated.push_back(paths[i]);
        const auto reconstructed = model.semantic_reconstruction(encoded.features).to(torch::kFloat32);
        add_semantic_batch(*teacher, captions_of, evaluated, batch.images, reconstructed, semantic);
      }
      const int64_t keep = std::min(options.sheet_images - sheet_kept, batch.images.size(0));
      if (keep > 0) {
        sheet_originals.push_back(batch.images.slice(0, 0, keep));
        sheet_reconstructions.push_back(reconstruction.slice(0, 0, keep).to(torch::kFloat32));
        sheet_kept += keep;
      }
    }
    if (options.on_batch) options.on_batch(last, count);
  }

  result.images = static_cast<int64_t>(psnr.size());
  if (result.images == 0) {
    throw Error("evaluation: none of the " + std::to_string(count) + " images can be read (first: " +
                result.unreadable.front() + ")");
  }
  result.psnr_mean = mean_of(psnr);
  result.psnr_median = median_of(psnr);
  result.ssim_mean = mean_of(ssim);
  result.usage = codebook_usage(histogram);
  result.last_scale_usage = codebook_usage(last_scale_histogram);
  if (teacher) {
    result.semantic_fidelity = semantic.cosine_sum / static_cast<double>(semantic.patches);
    if (teacher->clip) result.retrieval = caption_retrieval(*teacher->clip, semantic, options.batch_size);
  }
  if (sheet_kept > 0) {
    result.sheet_originals = torch::cat(sheet_originals);
    result.sheet_reconstructions = torch::cat(sheet_reconstructions);
  }
  return result;
}

torch::Tensor contact_sheet(const torch::Tensor& originals, const torch::Tensor& reconstructions) {
  if (originals.dim() != 4 || originals.size(0) == 0 || originals.size(1) != 3 ||
      originals.sizes() != reconstructions.sizes()) {
    throw Error("contact sheet: the images " + io::shape_string(originals.sizes()) + " and the reconstructions " +
                io::shape_string(reconstructions.sizes()) + " must both be N x 3 x H x W, N > 0");
  }
  const int64_t count = originals.size(0), height = originals.size(2), width = originals.size(3);
  const auto per_row = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int64_t rows = (count + per_row - 1) / per_row;
  const int64_t pair_width = 2 * width + kSheetPairGap;
  auto sheet = torch::ones({3, rows * height + (rows + 1) * kSheetGap, per_row * pair_width + (per_row + 1) * kSheetGap});
  for (int64_t i = 0; i < count; ++i) {
    const int64_t top = kSheetGap + (i / per_row) * (height + kSheetGap);
    const int64_t left = kSheetGap + (i % per_row) * (pair_width + kSheetGap);
    const auto row = sheet.slice(1, top, top + height);
    row.slice(2, left, left + width).copy_(originals[i]);
    row.slice(2, left + width + kSheetPairGap, left + pair_width).copy_(reconstructions[i]);
  }
  return sheet;
}

}  // namespace tokenflow::eval
