#pragma once
// Measuring a tokenizer on held-out images, as `tokenflow evaluate` reports it for the model card:
// reconstruction quality (PSNR, SSIM), codebook usage, and, given the semantic teacher, how well the
// tokens keep the teacher's features (per-patch cosine) and its zero-shot caption retrieval.
//
// Images are read as `tokenflow encode` reads them (io::load_image: centre crop to the model's size)
// and go through the model a batch at a time, so memory does not grow with the number of images.
#include <tokenflow/tokenizer.h>

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenflow::eval {

// How close a reconstruction is to its input, per image, both B x 3 x H x W in [-1, 1] (the input as
// the model saw it, after the centre crop).
// 10 log10(peak^2 / MSE) over all pixels and channels of each image, on comparable_pixels; peak 255
// for eight_bit, else 1. Infinite for identical images.
std::vector<double> psnr_per_image(const torch::Tensor& reference, const torch::Tensor& reconstruction,
                                   bool eight_bit);

// The SSIM of Wang et al. (2004) per image, on the 8-bit pixels (comparable_pixels, eight_bit), as
// skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
// data_range=255, channel_axis=-1) computes it: local means, variances and covariance under an 11 x 11
// Gaussian window (sigma 1.5, normalised to sum 1; population statistics), C1 = (0.01 x 255)^2,
// C2 = (0.03 x 255)^2, the SSIM map averaged over the positions whose window lies inside the image
// (skimage's crop of 5 pixels at each border), then over the three channels. In float64. Throws
// tokenflow::Error for mismatched shapes or images smaller than 11 x 11.
std::vector<double> ssim_per_image(const torch::Tensor& reference, const torch::Tensor& reconstruction);

// How much of a codebook a set of token indices uses.
struct CodebookUsage {
  int64_t tokens = 0;        // indices counted
  int64_t entries_used = 0;  // distinct entries among them
  double fraction_used = 0;  // entries_used / codebook size
  // exp(H), H = -sum p log p (natural log) over the index histogram: the number of equally used
  // entries that would give the same entropy (the codebook size for uniform use, 1 for one entry).
  double perplexity = 0;
};

// `histogram`: one count per codebook entry (torch::bincount of the indices, minlength the codebook
// size). Throws tokenflow::Error for an empty codebook or negative counts.
CodebookUsage codebook_usage(const torch::Tensor& histogram);

struct RetrievalAccuracy {
  double image_to_caption_top1 = 0, image_to_caption_top5 = 0;  // fractions of the images
  double caption_to_image_top1 = 0, caption_to_image_top5 = 0;  // fractions of the distinct captions
  int64_t images = 0, captions = 0;
  std::vector<std::string> unreadable;  // errors of the images left out (evaluate_retrieval)
};

struct TokenizerEvaluationOptions {
  int64_t batch_size = 8;    // images through the model at a time
  int64_t sheet_images = 0;  // keep the first N evaluated images and their reconstructions
  // Called after each batch with the images processed so far (readable or not) and the total.
  std::function<void(int64_t done, int64_t total)> on_batch;
};

struct CaptionRetrieval {
  int64_t uncaptioned = 0;  // evaluated images without a caption, left out
  // Image embeddings: the teacher's (the mean of its projected patch features, which is the CLIP's
  // encode_image), and the tokens' (the mean over patches of the model's semantic reconstruction from
  // the quantised tokens); captions: the CLIP's text tower. See retrieval.h for the measure.
  RetrievalAccuracy teacher, tokens;
};

struct TokenizerEvaluation {
  int64_t images = 0;                   // evaluated
  std::vector<std::string> unreadable;  // one error per image skipped, in list order
  int64_t tokens_per_image = 0;
  int64_t codebook_size = 0;
  double psnr_mean = 0, psnr_median = 0;  // dB; the median of an even count is the mean of the middle two
  double ssim_mean = 0;
  CodebookUsage usage;             // every index of every image, all scales
  CodebookUsage last_scale_usage;  // the indices of the finest scale only
  std::optional<double> semantic_fidelity;  // with a teacher: mean cosine over all patches of all images
  std::optional<CaptionRetrieval> retrieval;  // with a CLIP and captions
  // The first options.sheet_images evaluated images and their reconstructions, N x 3 x S x S in [-1, 1].
  torch::Tensor sheet_originals, sheet_reconstructions;
};

// The semantic side of an evaluation: the teacher's image tower for semantic fidelity and, with
// captions, the whole CLIP of a train-teacher checkpoint for caption retrieval.
class EvaluationTeacher {
 public:
  // `teacher`: a train-teacher checkpoint, or a CLIP (visual.*) or SigLIP (vision_model.*) state dict.
  // `captions` (may be empty): captions.tsv for the images of `list`; needs a train-teacher
  // checkpoint. Throws tokenflow::Error naming the file at fault.
  static EvaluationTeacher load(const std::string& teacher, const std::string& captions, const std::string& list);
  ~EvaluationTeacher();
  EvaluationTeacher(EvaluationTeacher&&) noexcept;
  EvaluationTeacher& operator=(EvaluationTeacher&&) noexcept;

  struct Networks;  // opaque here (src/eval/tokenizer_evaluation.h)
  explicit EvaluationTeacher(std::unique_ptr<Networks> networks);
  Networks& networks() const;

 private:
  std::unique_ptr<Networks> networks_;
};

// The images of a list file (one path a line, relative to the list's folder; blank lines and lines
// starting with '#' skipped): absolute, normalised, each once, in list order.
std::vector<std::string> read_image_list(const std::string& list);

// Evaluates `model` on the image files `images`. An image that cannot be read is skipped and its error
// kept in `unreadable`. Throws tokenflow::Error when none can be read, when the teacher's features do
// not have the shape of the model's semantic reconstruction, or when no evaluated image has a caption.
TokenizerEvaluation evaluate_tokenizer(const Model& model, const std::vector<std::string>& images,
                                       const EvaluationTeacher* teacher, const TokenizerEvaluationOptions& options = {});

// A train-teacher checkpoint's zero-shot caption retrieval on the captioned images of `list`.
struct TeacherRetrieval {
  RetrievalAccuracy accuracy;
  int64_t uncaptioned = 0;  // listed images without a caption, left out
};
TeacherRetrieval evaluate_teacher(const std::string& checkpoint, const std::string& captions, const std::string& list,
                                  int64_t batch_size = 64);

// The report of an evaluation, as `tokenflow evaluate` prints and writes it: what was evaluated, every
// number, and the definitions below.
struct EvaluationReport {
  std::string model;          // the checkpoint's path
  std::string list;           // the image list
  std::string teacher;        // empty: none
  std::string captions;       // empty: none
  std::string contact_sheet;  // empty: none written
};
// A JSON document (pretty-printed, with a final newline) of `result` for `model`.
std::string evaluation_json(const EvaluationReport& report, const Model& model, const TokenizerEvaluation& result);
// The same as aligned lines, for people.
std::string evaluation_text(const EvaluationReport& report, const TokenizerEvaluation& result);

// Originals beside their reconstructions (both N x 3 x S x S in [-1, 1]): pairs in a grid of
// ceil(sqrt(N)) pairs a row, on white, kSheetPairGap pixels between an original and its
// reconstruction and kSheetGap between pairs and at the edges. 3 x H x W in [-1, 1] with
// W = P (2 S + kSheetPairGap) + (P + 1) kSheetGap, H = R S + (R + 1) kSheetGap for P pairs a row and R rows.
inline constexpr int64_t kSheetGap = 8, kSheetPairGap = 2;
torch::Tensor contact_sheet(const torch::Tensor& originals, const torch::Tensor& reconstructions);

// The definitions of the numbers above, in words, for reports.
inline constexpr const char* kPsnrDefinition =
    "10 log10(255^2 / MSE) per image over all pixels and RGB channels, on 8-bit values (clamp to [-1, 1], "
    "round((x + 1) x 127.5)) of the centre-cropped input and its reconstruction from all scales; mean and median "
    "over the images";
inline constexpr const char* kSsimDefinition =
    "Wang et al. 2004 per image on 8-bit RGB values (data range 255): 11 x 11 Gaussian window, sigma 1.5, "
    "population statistics, K1 0.01, K2 0.03, averaged over the positions whose window lies inside the image and "
    "over the channels; as skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, "
    "use_sample_covariance=False, data_range=255, channel_axis=-1); mean over the images";
inline constexpr const char* kCodebookDefinition =
    "fraction used: distinct codebook entries among all token indices of all images (all scales, or the last "
    "scale only) divided by the codebook size; perplexity: exp of the entropy (natural log) of the index "
    "histogram";
inline constexpr const char* kSemanticFidelityDefinition =
    "cosine similarity between the model's semantic reconstruction from its quantised tokens and the teacher's "
    "patch features (model::Teacher::targets) on the same images, per patch, averaged over all patches of all "
    "images";
inline constexpr const char* kRetrievalDefinition =
    "zero-shot caption retrieval on the evaluated images that have captions, candidates the distinct captions "
    "embedded by the teacher's text tower, cosine similarity; image->caption: fraction of images with one of "
    "their captions among the k most similar; caption->image: fraction of captions with one of their images "
    "among the k most similar. Image embeddings: teacher = mean of the teacher's projected patch features "
    "(its encode_image); tokens = mean over patches of the model's semantic reconstruction from its tokens";

}  // namespace tokenflow::eval
