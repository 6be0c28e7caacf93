#include "io/shape_string.h"

#include <sstream>

namespace tokenflow::io {

std::string shape_string(torch::IntArrayRef sizes) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? "," : "") << sizes[i];
  out << ']';
  return out.str();
}

}  // namespace tokenflow::io
