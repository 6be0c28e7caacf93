#pragma once
// Pieces of the training runs' progress lines.
#include <string>

namespace tokenflow::train {

// "7m05s", or "2h03m00s" from an hour on.
std::string format_duration(double seconds);

}  // namespace tokenflow::train
