// available_memory (include/tokenflow/runtime.h).
#include <tokenflow/runtime.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace tokenflow {

namespace {

// The first number of a one-line file, or -1 ("max" or no file).
int64_t number_in(const std::string& path) {
  std::ifstream in(path);
  int64_t value = -1;
  if (!(in >> value)) return -1;
  return value;
}

int64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return 0;
}

}  // namespace

int64_t available_memory() {
  int64_t available = mem_available();
  const auto limit = number_in("/sys/fs/cgroup/memory.max"), used = number_in("/sys/fs/cgroup/memory.current");
  if (limit > 0 && used >= 0) {
    const auto left = std::max<int64_t>(0, limit - used);
    available = available > 0 ? std::min(available, left) : left;
  }
  return available;
}

}  // namespace tokenflow
