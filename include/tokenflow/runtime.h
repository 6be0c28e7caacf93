#pragma once
// Process-wide settings and facts about this machine and this build. They affect every Model in the
// process, so they are the application's call: the CLI and the benchmarks make them at start-up.
// Not to be called while another thread runs a model.
#include <cstdint>
#include <string>

namespace tokenflow {

// The library's version, "MAJOR.MINOR.PATCH".
const char* version();

// Makes glibc keep freed memory for reuse instead of unmapping it, so that large tensors reuse pages
// already faulted in rather than faulting in fresh mmaps (docs/performance.md measures the cost). No
// effect on other C libraries.
void reuse_freed_memory();

// Keeps OpenBLAS to one thread, so that its own thread pool does not wait beside LibTorch's OpenMP
// pool on the same cores (docs/performance.md). No effect where LibTorch's BLAS is not OpenBLAS.
void single_threaded_blas();

// The physical CPU cores this process may use: its CPU affinity, SMT siblings counted once, within a
// cgroup v2 CPU limit when one is set (containers); std::thread::hardware_concurrency() where the
// system says nothing. At least 1.
int cpu_cores();

// Sets the number of threads LibTorch uses for intra-op parallelism; 0 means cpu_cores(). LibTorch's
// own default counts cores through cpuinfo, which can undercount under virtualisation.
void set_num_threads(int threads);

// The memory this process could still take without swapping, in bytes: /proc/meminfo's MemAvailable,
// within a cgroup v2 memory limit when one is set (memory.max less memory.current). 0 where the system
// says nothing.
int64_t available_memory();

// Whether this machine computes bfloat16 natively (AVX-512 BF16 / AMX on CPU, or a CUDA device).
bool native_bf16(const std::string& device);

// The checkpoint to use when none is named, in this order: the environment variable TOKENFLOW_MODEL
// when it is set and not empty; else models/tokenflow-small.safetensors in the nearest of the running
// program's folder and its ancestors that has one (a build folder inside a checkout), or
// share/tokenflow/models/tokenflow-small.safetensors under them (an installed program). When none
// exists, the path it would have in the program's own folder. The file may not exist; callers check.
std::string default_model_path();

}  // namespace tokenflow
