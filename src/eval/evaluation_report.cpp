// The report of a tokenizer evaluation (include/tokenflow/evaluate.h), as JSON and as text.
#include <tokenflow/evaluate.h>

#include <nlohmann/json.hpp>

#include <cstdarg>
#include <cstdio>

namespace tokenflow::eval {

namespace {

using nlohmann::ordered_json;  // the document keeps its keys in the documented order

ordered_json usage_json(const CodebookUsage& usage) {
  return {{"tokens", usage.tokens},
          {"entries_used", usage.entries_used},
          {"fraction_used", usage.fraction_used},
          {"perplexity", usage.perplexity}};
}

ordered_json accuracy_json(const RetrievalAccuracy& accuracy) {
  return {{"image_to_caption_top1", accuracy.image_to_caption_top1},
          {"image_to_caption_top5", accuracy.image_to_caption_top5},
          {"caption_to_image_top1", accuracy.caption_to_image_top1},
          {"caption_to_image_top5", accuracy.caption_to_image_top5}};
}

ordered_json optional_text(const std::string& text) { return text.empty() ? ordered_json() : ordered_json(text); }

std::string printed(const char* format, ...) __attribute__((format(printf, 1, 2)));

std::string printed(const char* format, ...) {
  va_list arguments, again;
  va_start(arguments, format);
  va_copy(again, arguments);
  const int length = std::vsnprintf(nullptr, 0, format, arguments);
  va_end(arguments);
  std::string text(length > 0 ? size_t(length) : 0, '\0');
  std::vsnprintf(text.data(), text.size() + 1, format, again);
  va_end(again);
  return text;
}

std::string percent(double fraction) { return printed("%.1f%%", 100 * fraction); }

std::string accuracy_text(const RetrievalAccuracy& accuracy) {
  return "image->caption top-1 " + percent(accuracy.image_to_caption_top1) + " top-5 " +
         percent(accuracy.image_to_caption_top5) + ", caption->image top-1 " +
         percent(accuracy.caption_to_image_top1) + " top-5 " + percent(accuracy.caption_to_image_top5);
}

}  // namespace

std::string evaluation_json(const EvaluationReport& report, const Model& model, const TokenizerEvaluation& result) {
  const ModelConfig& config = model.config();
  ordered_json document = {
      {"model", report.model},
      {"model_metadata", model.metadata()},
      {"precision", precision_name(model.precision())},
      {"list", report.list},
      {"teacher", optional_text(report.teacher)},
      {"captions", optional_text(report.captions)},
      {"image_size", config.image_size},
      {"scales", config.scales},
      {"codebook_size", result.codebook_size},
      {"tokens_per_image", result.tokens_per_image},
      {"images", result.images},
      {"skipped", result.unreadable.size()},
      {"skipped_errors", result.unreadable},
      {"psnr_db", {{"mean", result.psnr_mean}, {"median", result.psnr_median}}},
      {"ssim", {{"mean", result.ssim_mean}}},
      {"codebook_usage", {{"all_scales", usage_json(result.usage)}, {"last_scale", usage_json(result.last_scale_usage)}}},
      {"semantic_fidelity",
       result.semantic_fidelity ? ordered_json({{"mean_cosine", *result.semantic_fidelity}}) : ordered_json()},
      {"retrieval", ordered_json()},
      {"contact_sheet", ordered_json()}};
  if (result.retrieval) {
    const auto& r = *result.retrieval;
    document["retrieval"] = {{"images", r.teacher.images},
                             {"uncaptioned", r.uncaptioned},
                             {"captions", r.teacher.captions},
                             {"teacher", accuracy_json(r.teacher)},
                             {"tokens", accuracy_json(r.tokens)}};
  }
  if (!report.contact_sheet.empty())
    document["contact_sheet"] = {{"path", report.contact_sheet}, {"images", result.sheet_originals.size(0)}};
  document["definitions"] = {{"psnr", kPsnrDefinition},
                             {"ssim", kSsimDefinition},
                             {"codebook_usage", kCodebookDefinition},
                             {"semantic_fidelity", kSemanticFidelityDefinition},
                             {"retrieval", kRetrievalDefinition}};
  return document.dump(2) + "\n";
}

std::string evaluation_text(const EvaluationReport& report, const TokenizerEvaluation& result) {
  std::string text = printed("%s on %s: %ld images evaluated, %ld skipped (unreadable), %ld tokens per image\n",
                             report.model.c_str(), report.list.c_str(), static_cast<long>(result.images),
                             static_cast<long>(result.unreadable.size()), static_cast<long>(result.tokens_per_image));
  text += printed("PSNR               mean %.2f dB, median %.2f dB\n", result.psnr_mean, result.psnr_median);
  text += printed("SSIM               mean %.4f\n", result.ssim_mean);
  text += printed("codebook usage     all scales %s of %ld entries (perplexity %.1f), last scale %s (perplexity %.1f)\n",
                  percent(result.usage.fraction_used).c_str(), static_cast<long>(result.codebook_size),
                  result.usage.perplexity, percent(result.last_scale_usage.fraction_used).c_str(),
                  result.last_scale_usage.perplexity);
  if (result.semantic_fidelity)
    text += printed("semantic fidelity  mean cosine %.4f to the patch features of %s\n", *result.semantic_fidelity,
                    report.teacher.c_str());
  if (result.retrieval) {
    const auto& r = *result.retrieval;
    text += printed("retrieval          %ld captioned images (%ld without a caption), %ld distinct captions\n",
                    static_cast<long>(r.teacher.images), static_cast<long>(r.uncaptioned),
                    static_cast<long>(r.teacher.captions));
    text += "  teacher          " + accuracy_text(r.teacher) + "\n";
    text += "  tokens           " + accuracy_text(r.tokens) + "\n";
  }
  if (!report.contact_sheet.empty())
    text += printed("contact sheet      %s (%ld images)\n", report.contact_sheet.c_str(),
                    static_cast<long>(result.sheet_originals.size(0)));
  return text;
}

}  // namespace tokenflow::eval
