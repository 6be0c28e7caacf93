#pragma once
// `tokenflow train-teacher` and `tokenflow eval-teacher`: training tokenflow's own small CLIP teacher
// on captioned images, and measuring a trained one by zero-shot caption retrieval (src/train).
#include <CLI/CLI.hpp>

#include <memory>

namespace tokenflow::cli {

// Adds both subcommands to `app`. Their options are bound to storage the returned object owns.
class TeacherCommands {
 public:
  explicit TeacherCommands(CLI::App& app);
  ~TeacherCommands();
  bool parsed() const;
  // Runs the parsed one. Returns the exit status.
  int run();

 private:
  struct Options;
  std::unique_ptr<Options> options_;
  CLI::App* train_ = nullptr;
  CLI::App* evaluate_ = nullptr;
};

}  // namespace tokenflow::cli
