#pragma once
// Zero-shot caption retrieval, the measure of a CLIP-style teacher on held-out images: for each image,
// is one of its captions among the k captions most similar to it (image -> caption), and for each
// caption, is one of the images it describes among the k most similar images (caption -> image)?
// Several images may share a caption (and an image may have several), so the candidates are the
// distinct captions and a hit is any relevant one; chance top-1 is then about 1 / captions.
#include <tokenflow/evaluate.h>

#include "model/teacher/clip_model.h"
#include "text/text_tokenizer.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::eval {

// An image and the captions that describe it.
struct CaptionedImage {
  std::string path;
  std::vector<std::string> captions;
};

// The distinct captions of `images`, in order of first appearance, and `relevant`: images x captions
// bool, true where the caption describes the image.
struct CaptionCandidates {
  std::vector<std::string> captions;
  torch::Tensor relevant;
};
CaptionCandidates caption_candidates(const std::vector<CaptionedImage>& images);

// similarity: images x captions, larger is closer; relevant: the same shape, bool. k is capped at the
// number of candidates. Throws tokenflow::Error for mismatched shapes.
RetrievalAccuracy retrieval_accuracy(const torch::Tensor& similarity, const torch::Tensor& relevant);

// With features from any model: cosine similarity of image_features (images x D) and
// caption_features (captions x D).
RetrievalAccuracy retrieval_accuracy(const torch::Tensor& image_features, const torch::Tensor& caption_features,
                                     const torch::Tensor& relevant);

// The text tower's embeddings of `captions` (captions x embed_dim, not normalised), `batch_size` at a
// time without gradients.
torch::Tensor caption_embeddings(model::ClipModel& model, const text::TextTokenizer& tokenizer, const std::vector<std::string>& captions,
                                 int64_t batch_size = 64);

// A CLIP model's zero-shot retrieval on `images`: each read and centre-cropped to the model's size
// as `tokenflow encode` does (io::load_image), embedded `batch_size` at a time without gradients;
// images that cannot be read are left out (with their captions) and listed in `unreadable`. Throws
// tokenflow::Error when no image is left.
RetrievalAccuracy evaluate_retrieval(model::ClipModel& model, const text::TextTokenizer& tokenizer,
                                     const std::vector<CaptionedImage>& images, int64_t batch_size = 64);

}  // namespace tokenflow::eval
