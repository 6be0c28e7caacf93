#pragma once
// Data-parallel training over c10d, as PyTorch's DistributedDataParallel does it: one process per
// rank, each with the whole model and its own share of every batch; the ranks start from rank 0's
// weights and average their gradients after each backward pass, so that every rank takes the same
// optimiser step. The ranks come from torchrun's environment variables, or from
// run_local_workers() for `tokenflow train --nproc N`. Gloo carries CPU tensors; NCCL carries CUDA
// tensors when the LibTorch was built with it.
#include <torch/torch.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tokenflow::train {

// PyTorch's default for rendezvous and collectives. Over Gloo a rank that dies closes its
// connections, which fails its peers' next collective at once; the timeout bounds the wait for a
// rank that never comes or stops taking part without exiting (NCCL's watchdog enforces it there).
constexpr std::chrono::milliseconds kDefaultDistributedTimeout = std::chrono::minutes(30);

// One process's place in the group, as torchrun describes it.
struct DistributedEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;       // the rank on this machine: the CUDA device index of this process
  std::string master_addr;  // where rank 0 serves the rendezvous store; empty for one process
  int master_port = 0;
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT from `variables` (name -> value,
// only the variables that are set). WORLD_SIZE unset or 1 is a single process; otherwise all five
// are required. Throws tokenflow::Error naming the variable: not an integer, out of range, rank not
// below the world size, or missing.
DistributedEnvironment parse_distributed_environment(const std::map<std::string, std::string>& variables);

// The same, from this process's environment.
DistributedEnvironment distributed_environment();

// Whether this LibTorch can carry CPU tensors between ranks (c10d with Gloo and its headers).
bool gloo_available();

// The ranks of one data-parallel run. Every collective must be called by all ranks in the same
// order with tensors of the same shapes; a single-process group makes each of them a no-op, so a
// trainer has one code path. Failures (a peer gone, a timeout) throw tokenflow::Error.
class DataParallelGroup {
 public:
  enum class Reduction { sum, mean };

  // One process alone.
  DataParallelGroup();
  // Joins the group `environment` describes: rank 0 serves a TCP store at master_addr:master_port
  // and the others connect to it, all within `timeout`. Tensors on a CUDA `device` travel by NCCL
  // when this LibTorch has it; everything else travels by Gloo through the CPU.
  DataParallelGroup(const DistributedEnvironment& environment, const torch::Device& device,
                    std::chrono::milliseconds timeout = kDefaultDistributedTimeout);
  DataParallelGroup(DataParallelGroup&&) noexcept;
  DataParallelGroup& operator=(DataParallelGroup&&) noexcept;
  ~DataParallelGroup();

  // The group distributed_environment() describes, a single process when WORLD_SIZE is unset or 1.
  static DataParallelGroup from_environment(const torch::Device& device,
                                            std::chrono::milliseconds timeout = kDefaultDistributedTimeout);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }

  // Overwrites `tensors` (parameters and buffers, the same list on every rank) with rank 0's values.
  void broadcast_from_rank0(const std::vector<torch::Tensor>& tensors);

  // Replaces the gradient of each of `parameters` (the same list on every rank) by its mean over
  // the ranks, exchanged in buckets of about 25 MB as DDP does. A parameter that has a gradient on
  // no rank keeps none, so that the optimiser skips it as it would in one process; one that has a
  // gradient on some ranks only counts as a zero gradient on the others and gets the mean on all.
  // Agreeing on which is which costs one small extra all-reduce.
  void average_gradients(const std::vector<torch::Tensor>& parameters);

  // Element-wise sum or mean over the ranks of a few numbers (losses, codebook usage, counts).
  std::vector<double> all_reduce(const std::vector<double>& values, Reduction reduction);

  // Returns once every rank has reached it.
  void barrier();

 private:
  struct Collectives;
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  std::unique_ptr<Collectives> collectives_;  // null for one process
};

}  // namespace tokenflow::train
