// evaluate: a tokenizer's numbers on held-out images (PSNR, SSIM, codebook usage, and with its teacher
// semantic fidelity and zero-shot caption retrieval), printed and written as JSON, and a contact sheet
// of originals beside their reconstructions.
#include "commands.h"

#include <tokenflow/evaluate.h>
#include <tokenflow/tokenflow.h>

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

namespace tokenflow::cli {

namespace {

struct EvaluateOptions {
  ModelOptions model;
  std::string list;
  std::string teacher;
  std::string captions;
  std::string contact_sheet;
  int64_t sheet_images = 16;
  std::string output;
  int64_t batch_size = 8;
};

// The live "evaluate: n/N images" line, where stderr is a terminal.
std::function<void(int64_t, int64_t)> progress_line() {
  if (::isatty(STDERR_FILENO) == 0) return {};
  return [](int64_t done, int64_t total) {
    std::fprintf(stderr, "\revaluate: %ld/%ld images%s", static_cast<long>(done), static_cast<long>(total),
                 done == total ? "\n" : "");
    std::fflush(stderr);
  };
}

int run_evaluate(const EvaluateOptions& o) {
  // Inputs are checked before the model is loaded.
  if (!o.output.empty()) io::require_extension(o.output, {".json"}, "the output");
  if (!o.contact_sheet.empty()) io::require_extension(o.contact_sheet, {".png"}, "--contact-sheet");
  const auto images = eval::read_image_list(o.list);
  if (images.empty()) throw Error(o.list + ": no images listed");
  std::optional<eval::EvaluationTeacher> teacher;
  if (!o.teacher.empty()) teacher = eval::EvaluationTeacher::load(o.teacher, o.captions, o.list);
  const eval::EvaluationReport report{model_path(o.model), o.list, o.teacher, o.captions, o.contact_sheet};
  const Model model = load_model(o.model);

  eval::TokenizerEvaluationOptions options;
  options.batch_size = o.batch_size;
  options.sheet_images = o.contact_sheet.empty() ? 0 : o.sheet_images;
  options.on_batch = progress_line();
  const auto result = eval::evaluate_tokenizer(model, images, teacher ? &*teacher : nullptr, options);
  for (const auto& error : result.unreadable) std::cerr << "tokenflow: skipped " << error << "\n";

  io::OutputFiles outputs;
  if (!o.contact_sheet.empty())
    outputs.write_images(o.contact_sheet, eval::contact_sheet(result.sheet_originals, result.sheet_reconstructions).unsqueeze(0));
  if (!o.output.empty()) outputs.write_text(o.output, eval::evaluation_json(report, model, result));
  outputs.keep();
  std::cout << eval::evaluation_text(report, result);
  return 0;
}

}  // namespace

std::vector<Command> add_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  CLI::App* c = app.add_subcommand("evaluate", "PSNR, SSIM, codebook usage and semantic measures on a list of held-out images")
                    ->group("Evaluation");
  add_model_options(c, o->model);
  c->add_option("--list", o->list, "held-out images, one path a line, relative to the list's folder")->required();
  auto* teacher = c->add_option("--teacher", o->teacher,
                                "the semantic teacher (a train-teacher checkpoint, or a CLIP/SigLIP state dict): "
                                "semantic fidelity");
  c->add_option("--captions", o->captions,
                "captions.tsv (path<TAB>caption, relative to its folder): zero-shot caption retrieval; needs a "
                "train-teacher checkpoint as --teacher")
      ->needs(teacher);
  auto* sheet = c->add_option("--contact-sheet", o->contact_sheet, ".png: originals beside their reconstructions")
                    ->group(kOutputGroup);
  c->add_option("--sheet-images", o->sheet_images, "images on the contact sheet (the first ones evaluated)")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}))
      ->needs(sheet)
      ->capture_default_str()
      ->group(kOutputGroup);
  add_output_option(c, o->output, "also write every number as .json");
  c->add_option("--batch-size", o->batch_size, "images through the model at a time")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str()
      ->group(kComputeGroup);
  return {{c, [o](const std::vector<std::string>&) { return run_evaluate(*o); }}};
}

}  // namespace tokenflow::cli
