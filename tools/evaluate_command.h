#pragma once
// `tokenflow evaluate`: a tokenizer's numbers on held-out images (PSNR, SSIM, codebook usage, and with
// its teacher semantic fidelity and zero-shot caption retrieval), printed and written as JSON, and a
// contact sheet of originals beside their reconstructions (src/train/tokenizer_evaluation.h).
#include <tokenflow/tokenflow.h>

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

namespace tokenflow::cli {

// Adds the command's own options to `command`, a subcommand that already has the model options every
// model command takes (-m, -t, --precision, --device). They are bound to storage this object owns.
class EvaluateCommand {
 public:
  explicit EvaluateCommand(CLI::App* command);
  ~EvaluateCommand();
  bool parsed() const;
  // `model_path` is the model as resolved (for the report); `load_model` loads it with the common
  // options. Inputs are checked before the model is loaded.
  void run(const std::string& model_path, const std::function<Model()>& load_model);

 private:
  struct Options;
  std::unique_ptr<Options> options_;
  CLI::App* command_;
};

}  // namespace tokenflow::cli
