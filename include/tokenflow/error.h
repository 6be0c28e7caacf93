#pragma once
// The exception types of the public API. Their messages are a single line that names the file or
// argument at fault and the problem, so a command-line tool can print them as they are.
#include <stdexcept>
#include <string>

namespace tokenflow {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when a progress callback asks a call to stop (tokenizer.h, ProgressCallback).
class Cancelled : public Error {
 public:
  using Error::Error;
};

// The first line of `message` without trailing white space, "unknown error" when that is empty: how
// a message from a lower library (LibTorch, a parser) becomes a one-line error.
std::string first_line(const std::string& message);

}  // namespace tokenflow
