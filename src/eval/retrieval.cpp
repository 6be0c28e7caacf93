#include "eval/retrieval.h"

#include <tokenflow/error.h>

#include "io/image.h"
#include "io/shape_string.h"
#include "nn/weights.h"

#include <algorithm>
#include <map>

namespace tokenflow::eval {

namespace {

// The fraction of rows of `similarity` with a relevant column among their k largest.
double hit_rate(const torch::Tensor& similarity, const torch::Tensor& relevant, int64_t k) {
  const auto top = std::get<1>(similarity.topk(std::min(k, similarity.size(1)), /*dim=*/1));
  return relevant.gather(1, top).any(1).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

CaptionCandidates caption_candidates(const std::vector<CaptionedImage>& images) {
  CaptionCandidates candidates;
  std::map<std::string, int64_t> index;
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (image, caption)
  for (size_t i = 0; i < images.size(); ++i) {
    for (const auto& caption : images[i].captions) {
      const auto [found, added] = index.emplace(caption, static_cast<int64_t>(candidates.captions.size()));
      if (added) candidates.captions.push_back(caption);
      pairs.emplace_back(static_cast<int64_t>(i), found->second);
    }
  }
  candidates.relevant = torch::zeros({static_cast<int64_t>(images.size()), static_cast<int64_t>(candidates.captions.size())},
                                     torch::kBool);
  auto relevant = candidates.relevant.accessor<bool, 2>();
  for (const auto& [image, caption] : pairs) relevant[image][caption] = true;
  return candidates;
}

RetrievalAccuracy retrieval_accuracy(const torch::Tensor& similarity, const torch::Tensor& relevant) {
  if (similarity.dim() != 2 || similarity.sizes() != relevant.sizes() || similarity.numel() == 0) {
    throw Error("retrieval: a similarity matrix of shape " + io::shape_string(similarity.sizes()) +
                " does not match its relevance of shape " + io::shape_string(relevant.sizes()));
  }
  const auto scores = similarity.to(torch::kFloat32);
  const auto hits = relevant.to(torch::kBool);
  RetrievalAccuracy accuracy;
  accuracy.images = similarity.size(0);
  accuracy.captions = similarity.size(1);
  accuracy.image_to_caption_top1 = hit_rate(scores, hits, 1);
  accuracy.image_to_caption_top5 = hit_rate(scores, hits, 5);
  accuracy.caption_to_image_top1 = hit_rate(scores.t(), hits.t(), 1);
  accuracy.caption_to_image_top5 = hit_rate(scores.t(), hits.t(), 5);
  return accuracy;
}

RetrievalAccuracy retrieval_accuracy(const torch::Tensor& image_features, const torch::Tensor& caption_features,
                                     const torch::Tensor& relevant) {
  namespace F = torch::nn::functional;
  const auto images = F::normalize(image_features.to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1));
  const auto captions = F::normalize(caption_features.to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1));
  return retrieval_accuracy(torch::matmul(images, captions.t()), relevant);
}

torch::Tensor caption_embeddings(model::ClipModel& model, const text::TextTokenizer& tokenizer, const std::vector<std::string>& captions,
                                 int64_t batch_size) {
  if (batch_size < 1) throw Error("retrieval: the batch size must be positive, got " + std::to_string(batch_size));
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> features;
  for (size_t first = 0; first < captions.size(); first += static_cast<size_t>(batch_size)) {
    const auto last = std::min(captions.size(), first + static_cast<size_t>(batch_size));
    const std::vector<std::string> batch(captions.begin() + first, captions.begin() + last);
    features.push_back(model.encode_text(tokenizer.encode(batch, model.config.context)));
  }
  return torch::cat(features);
}

RetrievalAccuracy evaluate_retrieval(model::ClipModel& model, const text::TextTokenizer& tokenizer,
                                     const std::vector<CaptionedImage>& images, int64_t batch_size) {
  if (batch_size < 1) throw Error("retrieval: the batch size must be positive, got " + std::to_string(batch_size));
  torch::NoGradGuard no_grad;
  const auto count = static_cast<int64_t>(images.size());
  std::vector<CaptionedImage> readable;
  std::vector<torch::Tensor> image_features;
  std::vector<std::string> unreadable;
  // Decoded a batch at a time, so that a large held-out set never sits in memory as pixels.
  for (int64_t first = 0; first < count; first += batch_size) {
    const int64_t last = std::min(count, first + batch_size);
    std::vector<std::string> paths;
    for (int64_t i = first; i < last; ++i) paths.push_back(images[i].path);
    auto batch = io::load_images(paths, model.config.image_size);
    for (size_t j : batch.readable) readable.push_back(images[first + j]);
    unreadable.insert(unreadable.end(), batch.errors.begin(), batch.errors.end());
    if (batch.images.defined()) image_features.push_back(model.encode_image(batch.images));
  }
  if (readable.empty()) {
    throw Error("retrieval: none of the " + std::to_string(count) + " images can be read" +
                (unreadable.empty() ? std::string() : " (first: " + unreadable.front() + ")"));
  }
  const auto candidates = caption_candidates(readable);
  auto accuracy = retrieval_accuracy(torch::cat(image_features),
                                     caption_embeddings(model, tokenizer, candidates.captions, batch_size),
                                     candidates.relevant);
  accuracy.unreadable = std::move(unreadable);
  return accuracy;
}

}  // namespace tokenflow::eval
