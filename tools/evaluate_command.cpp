#include "evaluate_command.h"

#include <tokenflow/error.h>

#include "io/checkpoint.h"
#include "io/files.h"
#include "io/image.h"
#include "train/teacher_training.h"
#include "train/tokenizer_evaluation.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

namespace tokenflow::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

void require_suffix(const std::string& path, const std::string& suffix, const std::string& what) {
  const std::string extension = fs::path(path).extension().string();
  if (extension != suffix) throw Error(path + ": " + what + " must end in " + suffix);
}

ordered_json usage_json(const train::CodebookUsage& usage) {
  return {{"tokens", usage.tokens},
          {"entries_used", usage.entries_used},
          {"fraction_used", usage.fraction_used},
          {"perplexity", usage.perplexity}};
}

ordered_json accuracy_json(const train::RetrievalAccuracy& accuracy) {
  return {{"image_to_caption_top1", accuracy.image_to_caption_top1},
          {"image_to_caption_top5", accuracy.image_to_caption_top5},
          {"caption_to_image_top1", accuracy.caption_to_image_top1},
          {"caption_to_image_top5", accuracy.caption_to_image_top5}};
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%", 100 * fraction);
  return text;
}

std::string accuracy_text(const train::RetrievalAccuracy& accuracy) {
  return "image->caption top-1 " + percent(accuracy.image_to_caption_top1) + " top-5 " +
         percent(accuracy.image_to_caption_top5) + ", caption->image top-1 " +
         percent(accuracy.caption_to_image_top1) + " top-5 " + percent(accuracy.caption_to_image_top5);
}

}  // namespace

struct EvaluateCommand::Options {
  std::string list;
  std::string teacher;
  std::string captions;
  std::string contact_sheet;
  int64_t sheet_images = 16;
  std::string output;
  int64_t batch_size = 8;
};

EvaluateCommand::EvaluateCommand(CLI::App* command) : options_(std::make_unique<Options>()), command_(command) {
  auto& o = *options_;
  auto* c = command_;
  c->add_option("--list", o.list, "held-out images, one path a line, relative to the list's folder")->required();
  auto* teacher = c->add_option("--teacher", o.teacher,
                                "the semantic teacher (a train-teacher checkpoint, or a CLIP/SigLIP state dict): "
                                "semantic fidelity");
  c->add_option("--captions", o.captions,
                "captions.tsv (path<TAB>caption, relative to its folder): zero-shot caption retrieval; needs a "
                "train-teacher checkpoint as --teacher")
      ->needs(teacher);
  auto* sheet = c->add_option("--contact-sheet", o.contact_sheet, ".png: originals beside their reconstructions");
  c->add_option("--sheet-images", o.sheet_images, "images on the contact sheet (the first ones evaluated)")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}))
      ->needs(sheet)
      ->capture_default_str();
  c->add_option("-o,--output", o.output, "also write every number as .json");
  c->add_option("--batch-size", o.batch_size, "images through the model at a time")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
}

EvaluateCommand::~EvaluateCommand() = default;

bool EvaluateCommand::parsed() const { return command_->parsed(); }

void EvaluateCommand::run(const std::string& model_path, const std::function<Model()>& load_model) {
  const auto& o = *options_;
  if (!o.output.empty()) require_suffix(o.output, ".json", "the output");
  if (!o.contact_sheet.empty()) require_suffix(o.contact_sheet, ".png", "--contact-sheet");
  const auto images = train::read_image_list(o.list);
  if (images.empty()) throw Error(o.list + ": no images listed");

  std::optional<train::EvaluationTeacher> teacher;
  if (!o.teacher.empty()) {
    teacher.emplace();
    const auto state = io::load_state_dict(o.teacher);
    if (!o.captions.empty()) {
      teacher->captioned = train::read_captioned_images(o.captions, o.list).images;
      if (!state.contains("token_embedding.weight")) {
        throw Error(o.teacher + ": no text tower (token_embedding.weight); --captions needs a train-teacher checkpoint");
      }
      teacher->clip = train::load_clip(o.teacher);
    }
    teacher->image_tower = train::load_teacher(state, o.teacher);
  }
  const Model model = load_model();

  train::TokenizerEvaluationOptions evaluation_options;
  evaluation_options.batch_size = o.batch_size;
  evaluation_options.sheet_images = o.contact_sheet.empty() ? 0 : o.sheet_images;
  const bool live = ::isatty(STDERR_FILENO) != 0;
  if (live) {
    evaluation_options.on_batch = [](int64_t done, int64_t total) {
      std::fprintf(stderr, "\revaluate: %ld/%ld images", static_cast<long>(done), static_cast<long>(total));
      std::fflush(stderr);
    };
  }
  const auto result = train::evaluate_tokenizer(model, images, teacher ? &*teacher : nullptr, evaluation_options);
  if (live) std::fprintf(stderr, "\n");
  for (const auto& error : result.unreadable) std::cerr << "tokenflow: skipped " << error << "\n";

  const ModelConfig& config = model.config();
  ordered_json document = {{"model", model_path},
                           {"model_metadata", model.metadata()},
                           {"precision", tokenflow::precision_name(model.precision())},
                           {"list", o.list},
                           {"teacher", o.teacher.empty() ? ordered_json() : ordered_json(o.teacher)},
                           {"captions", o.captions.empty() ? ordered_json() : ordered_json(o.captions)},
                           {"image_size", config.image_size},
                           {"scales", config.scales},
                           {"codebook_size", result.codebook_size},
                           {"tokens_per_image", result.tokens_per_image},
                           {"images", result.images},
                           {"skipped", result.unreadable.size()},
                           {"skipped_errors", result.unreadable},
                           {"psnr_db", {{"mean", result.psnr_mean}, {"median", result.psnr_median}}},
                           {"ssim", {{"mean", result.ssim_mean}}},
                           {"codebook_usage",
                            {{"all_scales", usage_json(result.usage)}, {"last_scale", usage_json(result.last_scale_usage)}}},
                           {"semantic_fidelity", result.semantic_fidelity
                                                     ? ordered_json({{"mean_cosine", *result.semantic_fidelity}})
                                                     : ordered_json()},
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
  if (!o.contact_sheet.empty()) {
    document["contact_sheet"] = {{"path", o.contact_sheet}, {"images", result.sheet_originals.size(0)}};
  }
  document["definitions"] = {{"psnr", train::kPsnrDefinition},
                             {"ssim", train::kSsimDefinition},
                             {"codebook_usage", train::kCodebookDefinition},
                             {"semantic_fidelity", train::kSemanticFidelityDefinition},
                             {"retrieval", train::kRetrievalDefinition}};

  if (!o.contact_sheet.empty()) {
    io::save_image(o.contact_sheet, train::contact_sheet(result.sheet_originals, result.sheet_reconstructions));
  }
  if (!o.output.empty()) {
    try {
      io::write_text_file(o.output, document.dump(2) + "\n");
    } catch (...) {
      // A failed command leaves no output behind, the sheet included.
      if (!o.contact_sheet.empty()) fs::remove(o.contact_sheet);
      throw;
    }
  }

  std::printf("%s on %s: %ld images evaluated, %ld skipped (unreadable), %ld tokens per image\n", model_path.c_str(),
              o.list.c_str(), static_cast<long>(result.images), static_cast<long>(result.unreadable.size()),
              static_cast<long>(result.tokens_per_image));
  std::printf("PSNR               mean %.2f dB, median %.2f dB\n", result.psnr_mean, result.psnr_median);
  std::printf("SSIM               mean %.4f\n", result.ssim_mean);
  std::printf("codebook usage     all scales %s of %ld entries (perplexity %.1f), last scale %s (perplexity %.1f)\n",
              percent(result.usage.fraction_used).c_str(), static_cast<long>(result.codebook_size),
              result.usage.perplexity, percent(result.last_scale_usage.fraction_used).c_str(),
              result.last_scale_usage.perplexity);
  if (result.semantic_fidelity) {
    std::printf("semantic fidelity  mean cosine %.4f to the patch features of %s\n", *result.semantic_fidelity,
                o.teacher.c_str());
  }
  if (result.retrieval) {
    const auto& r = *result.retrieval;
    std::printf("retrieval          %ld captioned images (%ld without a caption), %ld distinct captions\n",
                static_cast<long>(r.teacher.images), static_cast<long>(r.uncaptioned), static_cast<long>(r.teacher.captions));
    std::printf("  teacher          %s\n", accuracy_text(r.teacher).c_str());
    std::printf("  tokens           %s\n", accuracy_text(r.tokens).c_str());
  }
  if (!o.contact_sheet.empty()) {
    std::printf("contact sheet      %s (%ld images)\n", o.contact_sheet.c_str(),
                static_cast<long>(result.sheet_originals.size(0)));
  }
}

}  // namespace tokenflow::cli
