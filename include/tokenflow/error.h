#pragma once
// The one exception type of the public API. Its message is a single line that names the file or
// argument at fault and the problem, so a command-line tool can print it as it is.
#include <stdexcept>
#include <string>

namespace tokenflow {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tokenflow
