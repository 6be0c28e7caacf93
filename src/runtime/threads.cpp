// How many threads the computation gets: LibTorch's intra-op pool and the BLAS beside it.
#include <tokenflow/runtime.h>

#include <torch/torch.h>

#include <dlfcn.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>

namespace tokenflow {

namespace {

#if defined(__linux__)
// The first line of a small system file; empty when it cannot be read.
std::string read_first_line(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

// A cgroup v2 CPU limit ("quota period" in cpu.max, as `docker --cpus` sets), rounded up; 0 if none.
int cgroup_cpu_limit() {
  const std::string limit = read_first_line("/sys/fs/cgroup/cpu.max");
  double quota = 0, period = 0;
  if (std::sscanf(limit.c_str(), "%lf %lf", &quota, &period) != 2 || quota <= 0 || period <= 0) return 0;
  return std::max(1, static_cast<int>(std::ceil(quota / period)));
}

// Physical cores among the CPUs this process may run on: CPUs sharing a core list the same
// thread siblings in sysfs; a CPU whose siblings sysfs does not list counts as a core.
int cores_in_affinity() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return 0;
  std::set<std::string> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    const std::string siblings =
        read_first_line("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list");
    cores.insert(siblings.empty() ? "cpu" + std::to_string(cpu) : siblings);
  }
  return static_cast<int>(cores.size());
}
#endif

}  // namespace

int cpu_cores() {
  int cores = 0;
#if defined(__linux__)
  cores = cores_in_affinity();
  if (const int limit = cgroup_cpu_limit(); limit > 0 && cores > 0) cores = std::min(cores, limit);
#endif
  if (cores <= 0) cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores);
}

void set_num_threads(int threads) { torch::set_num_threads(threads > 0 ? threads : cpu_cores()); }

void single_threaded_blas() {
  // Looked up at run time: OpenBLAS is LibTorch's dependency, not ours, and may be absent.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

}  // namespace tokenflow
