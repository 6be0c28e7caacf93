#pragma once
// `tokenflow train`: the command-line front end of src/train (options named as vq_train.py's flags).
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace tokenflow::cli {

// Adds the `train` subcommand to `app`. Its options are bound to storage the returned object owns.
class TrainCommand {
 public:
  explicit TrainCommand(CLI::App& app);
  ~TrainCommand();
  bool parsed() const;
  // `arguments` is the whole command line (for --config merging and for --nproc workers). Returns
  // the exit status.
  int run(const std::vector<std::string>& arguments);

 private:
  struct Options;
  Options* options_;
  CLI::App* command_;
};

// The command line with the options of a TOML config file (`--config FILE`) inserted after the
// subcommand, except those the command line gives itself: there, the command line wins. `command`
// tells flags (which take no value) from options.
std::vector<std::string> merge_config_file(const std::vector<std::string>& arguments, const CLI::App& command);

}  // namespace tokenflow::cli
