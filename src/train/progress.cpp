#include "train/progress.h"

#include <cstdint>
#include <iomanip>
#include <sstream>

namespace tokenflow::train {

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream text;
  if (total >= 3600) text << total / 3600 << "h";
  text << std::setfill('0') << std::setw(total >= 3600 ? 2 : 1) << (total / 60) % 60 << "m" << std::setw(2) << total % 60
       << "s";
  return text.str();
}

}  // namespace tokenflow::train
