#pragma once
// Helpers shared by the I/O tests: scratch directories, whole-file reads and writes, fixture paths
// and checks on tokenflow::Error messages.
#include <tokenflow/error.h>
#include "parity_fixture.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace tokenflow::io::test {

// A fresh directory, removed with its contents when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() / ("tokenflow_io_test_" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // The names in the directory, to check that no temporary file was left behind.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) names.push_back(entry.path().filename().string());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(file.good()) << path;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

inline std::string parity_file(const std::string& relative) { return testing::parity_dir() + "/" + relative; }
inline std::string data_file(const std::string& relative) { return std::string(TOKENFLOW_TEST_DATA_DIR) + "/io/" + relative; }

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }


// The message of the tokenflow::Error that `action` throws (a test failure if it throws none).
// Errors must be one line that names the file at fault.
template <typename Action>
std::string error_of(Action&& action, const std::string& path = "") {
  try {
    action();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    if (!path.empty()) {
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    }
    return message;
  }
  ADD_FAILURE() << "no tokenflow::Error thrown";
  return "";
}

}  // namespace tokenflow::io::test
