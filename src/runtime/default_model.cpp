// Where the model comes from when a caller names none (include/tokenflow/runtime.h): found from the
// running program, so that a build folder, a moved checkout and an installed prefix all work without a
// path compiled in.
#include <tokenflow/runtime.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace tokenflow {

namespace {

namespace fs = std::filesystem;

constexpr const char* kShippedModel = "tokenflow-small.safetensors";

fs::path program_folder() {
  std::error_code error;
  const fs::path program = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::current_path(error) : program.parent_path();
}

}  // namespace

std::string default_model_path() {
  const char* chosen = std::getenv("TOKENFLOW_MODEL");
  if (chosen != nullptr && *chosen != '\0') return chosen;
  const fs::path start = program_folder();
  for (fs::path folder = start;; folder = folder.parent_path()) {
    for (const fs::path& candidate :
         {folder / "models" / kShippedModel, folder / "share" / "tokenflow" / "models" / kShippedModel}) {
      std::error_code error;
      if (fs::is_regular_file(candidate, error)) return candidate.string();
    }
    if (folder == folder.root_path() || folder.empty()) break;
  }
  return (start / "models" / kShippedModel).string();
}

}  // namespace tokenflow
