#include "train/retrieval.h"

#include <tokenflow/error.h>

#include "io/image.h"
#include "nn/weights.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <map>

namespace tokenflow::train {

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
    throw Error("retrieval: a similarity matrix of shape " + nn::shape_string(similarity.sizes()) +
                " does not match its relevance of shape " + nn::shape_string(relevant.sizes()));
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

RetrievalAccuracy evaluate_retrieval(ClipModel& model, const TextTokenizer& tokenizer,
                                     const std::vector<CaptionedImage>& images, int64_t batch_size) {
  if (batch_size < 1) throw Error("retrieval: the batch size must be positive, got " + std::to_string(batch_size));
  torch::NoGradGuard no_grad;
  const auto count = static_cast<int64_t>(images.size());
  std::vector<CaptionedImage> readable;
  std::vector<torch::Tensor> image_features;
  RetrievalAccuracy accuracy;
  // Decoded a batch at a time, so that a large held-out set never sits in memory as pixels.
  for (int64_t first = 0; first < count; first += batch_size) {
    const int64_t last = std::min(count, first + batch_size);
    std::vector<torch::Tensor> pixels(static_cast<size_t>(last - first));
    std::vector<std::string> errors(pixels.size());
    at::parallel_for(first, last, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        try {
          pixels[i - first] = io::load_image(images[i].path, model.config.image_size);
        } catch (const Error& e) {
          errors[i - first] = e.what();
        }
      }
    });
    std::vector<torch::Tensor> batch;
    for (size_t j = 0; j < pixels.size(); ++j) {
      if (pixels[j].defined()) {
        batch.push_back(pixels[j]);
        readable.push_back(images[first + j]);
      } else {
        accuracy.unreadable.push_back(errors[j]);
      }
    }
    if (!batch.empty()) image_features.push_back(model.encode_image(torch::cat(batch)));
  }
  if (readable.empty()) {
    throw Error("retrieval: none of the " + std::to_string(count) + " images can be read" +
                (accuracy.unreadable.empty() ? std::string() : " (first: " + accuracy.unreadable.front() + ")"));
  }
  const auto candidates = caption_candidates(readable);
  std::vector<torch::Tensor> caption_features;
  for (size_t first = 0; first < candidates.captions.size(); first += static_cast<size_t>(batch_size)) {
    const auto last = std::min(candidates.captions.size(), first + static_cast<size_t>(batch_size));
    const std::vector<std::string> batch(candidates.captions.begin() + first, candidates.captions.begin() + last);
    caption_features.push_back(model.encode_text(tokenizer.encode(batch, model.config.context)));
  }
  auto unreadable = std::move(accuracy.unreadable);
  accuracy = retrieval_accuracy(torch::cat(image_features), torch::cat(caption_features), candidates.relevant);
  accuracy.unreadable = std::move(unreadable);
  return accuracy;
}

}  // namespace tokenflow::train
