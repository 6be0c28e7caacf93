#pragma once
// Running the built `tokenflow` binary from a test, in a scratch directory of its own.
#include <gtest/gtest.h>
#include "parity_fixture.h"
#include <torch/torch.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tokenflow::testing {

namespace fs = std::filesystem;

inline std::string quoted(const std::string& text) {
  std::string result = "'";
  for (char c : text) result += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return result + "'";
}

inline std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

inline void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// TOKENFLOW_MODEL set to `value` (unset for nullopt) while the object lives; the commands a test runs
// inherit it.
class ModelVariable {
 public:
  explicit ModelVariable(const std::optional<std::string>& value) {
    if (const char* previous = std::getenv(kName)) previous_ = previous;
    set(value);
  }
  ~ModelVariable() { set(previous_); }
  ModelVariable(const ModelVariable&) = delete;
  ModelVariable& operator=(const ModelVariable&) = delete;

 private:
  static void set(const std::optional<std::string>& value) {
    if (value) ::setenv(kName, value->c_str(), 1);
    else ::unsetenv(kName);
  }
  static constexpr const char* kName = "TOKENFLOW_MODEL";
  std::optional<std::string> previous_;
};

struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};

inline double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Each test works in its own scratch directory, removed afterwards.
class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "." + info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("tokenflow_cli_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  CommandResult run_shell(const std::string& command) const {
    const std::string out = path("stdout.txt"), err = path("stderr.txt");
    const int status = std::system((command + " >" + quoted(out) + " 2>" + quoted(err)).c_str());
    CommandResult result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
    fs::remove(out);
    fs::remove(err);
    return result;
  }

  CommandResult run_tokenflow(const std::vector<std::string>& args) const {
    std::string command = quoted(TOKENFLOW_CLI);
    for (const auto& arg : args) command += " " + quoted(arg);
    return run_shell(command);
  }

  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.insert(entry.path().filename().string());
    return names;
  }

  // Runs a command that must fail: non-zero exit, one line on stderr that names the problem, and
  // not a single file created.
  void expect_clean_failure(const std::vector<std::string>& args, const std::string& mention) const {
    const auto before = files();
    const CommandResult run = run_tokenflow(args);
    EXPECT_NE(run.status, 0);
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_EQ(run.err.rfind("tokenflow: error: ", 0), 0u) << run.err;
    EXPECT_NE(run.err.find(mention), std::string::npos) << "expected '" << mention << "' in: " << run.err;
    EXPECT_EQ(files(), before) << "a failed command left files behind";
  }

  // Runs README lines with build/ standing for the scratch directory (where the binary is linked),
  // ../shared/parity for the configured fixtures, tests/ for the source tree's tests and examples/
  // for its bundled images.
  CommandResult run_examples(std::string script) const {
    fs::create_symlink(TOKENFLOW_CLI, dir_ / "tokenflow");
    replace_all(script, "build/", dir_.string() + "/");
    replace_all(script, "../shared/parity", parity_dir());
    replace_all(script, "tests/data", TOKENFLOW_TEST_DATA_DIR);
    const fs::path examples = fs::path(TOKENFLOW_README).parent_path() / "examples";
    replace_all(script, " examples/", " " + examples.string() + "/");
    write_file(path("examples.sh"), script);
    return run_shell("bash -euo pipefail " + quoted(path("examples.sh")));
  }

  fs::path dir_;
};

// The lines of the first ```sh block after `marker` in the Markdown file `path`.
inline std::string readme_examples(const std::string& path, const std::string& marker) {
  std::istringstream readme(read_file(path));
  std::string line, script;
  bool after_marker = false, in_block = false;
  while (std::getline(readme, line)) {
    if (line == marker) after_marker = true;
    else if (after_marker && !in_block && line.rfind("```", 0) == 0) in_block = true;
    else if (in_block && line.rfind("```", 0) == 0) break;
    else if (in_block) script += line + "\n";
  }
  return script;
}

}  // namespace tokenflow::testing
