#include <tokenflow/error.h>

#include <cctype>

namespace tokenflow {

std::string first_line(const std::string& message) {
  std::string line = message.substr(0, message.find('\n'));
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line.empty() ? "unknown error" : line;
}

}  // namespace tokenflow
