#include "train/run_folder.h"

#include <filesystem>
#include <iomanip>
#include <sstream>

namespace tokenflow::train {

std::string checkpoint_path(const std::string& output, int64_t step) {
  std::ostringstream name;
  name << std::setfill('0') << std::setw(7) << step << ".pt";
  return (std::filesystem::path(output) / "checkpoints" / name.str()).string();
}

}  // namespace tokenflow::train
