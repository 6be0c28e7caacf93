#include "train/distributed.h"

#include <tokenflow/error.h>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

// LibTorch 2.0 moved the collectives from c10d::ProcessGroup to c10d::Backend: ProcessGroup became
// a dispatcher over backends, and ProcessGroupGloo and ProcessGroupNCCL derive from Backend. Both
// versions take the same arguments, so the backends are used directly through their common base.
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

// The backends' headers include their libraries' headers, which not every LibTorch ships (pip's
// wheels leave out gloo's; nccl.h comes with the CUDA toolkit or NCCL's own package).
#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define TOKENFLOW_HAVE_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#define TOKENFLOW_HAVE_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

extern char** environ;

namespace tokenflow::train {

namespace {

#if TORCH_VERSION_MAJOR >= 2
using Backend = c10d::Backend;
#else
using Backend = c10d::ProcessGroup;
#endif

// DistributedDataParallel's default bucket_cap_mb: large enough to amortise each collective's
// latency, small enough not to double the gradients' memory.
constexpr int64_t kBucketBytes = int64_t{25} << 20;

const char* const kEnvironmentNames[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                         "MASTER_PORT"};

// c10::Error's what() carries a backtrace; its first line is the message either way.
std::string reason(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) return first_line(error->what_without_backtrace());
  return first_line(e.what());
}

std::optional<std::string> lookup(const std::map<std::string, std::string>& variables, const std::string& name) {
  const auto found = variables.find(name);
  if (found == variables.end()) return std::nullopt;
  return found->second;
}

int parse_integer(const std::string& name, const std::string& value) {
  int result = 0;
  const char* end = value.data() + value.size();
  const auto [stop, error] = std::from_chars(value.data(), end, result);
  if (value.empty() || error != std::errc() || stop != end) {
    throw Error("environment variable " + name + "='" + value + "' is not an integer");
  }
  return result;
}

// The integer in variable `name`, which must lie in [minimum, maximum]; `bound` says so in the error.
int parse_bounded(const std::string& name, const std::string& value, int minimum, int maximum,
                  const std::string& bound) {
  const int result = parse_integer(name, value);
  if (result < minimum || result > maximum) throw Error("environment variable " + name + "=" + value + " " + bound);
  return result;
}

#ifdef TOKENFLOW_HAVE_GLOO
bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// PyTorch's choice of interface: GLOO_SOCKET_IFNAME when set, else the address this host's name
// resolves to. Ranks that meet on a loopback address bind to loopback, which works without a
// resolvable host name.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

// Consecutive runs of `tensors` of one dtype, each at most kBucketBytes (a larger tensor alone).
struct Bucket {
  size_t begin = 0;
  size_t end = 0;
  int64_t numel = 0;
};

std::vector<Bucket> buckets_of(const std::vector<torch::Tensor>& tensors) {
  std::vector<Bucket> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t size = tensors[i].numel() * static_cast<int64_t>(tensors[i].element_size());
    const bool joins = !buckets.empty() && tensors[i].scalar_type() == tensors[buckets.back().begin].scalar_type() &&
                       bytes + size <= kBucketBytes;
    if (!joins) {
      buckets.push_back({i, i, 0});
      bytes = 0;
    }
    buckets.back().end = i + 1;
    buckets.back().numel += tensors[i].numel();
    bytes += size;
  }
  return buckets;
}

}  // namespace

DistributedEnvironment parse_distributed_environment(const std::map<std::string, std::string>& variables) {
  constexpr int kIntMax = std::numeric_limits<int>::max();
  DistributedEnvironment environment;
  if (const auto world_size = lookup(variables, "WORLD_SIZE")) {
    environment.world_size = parse_bounded("WORLD_SIZE", *world_size, 1, kIntMax, "must be at least 1");
  }
  const std::string below_world_size = "must be from 0 to WORLD_SIZE - 1 (WORLD_SIZE=" +
                                       std::to_string(environment.world_size) + ")";
  const auto rank = lookup(variables, "RANK"), local_rank = lookup(variables, "LOCAL_RANK");
  if (environment.world_size == 1) {
    // torchrun sets these for a single process too; they must agree with it.
    if (rank) parse_bounded("RANK", *rank, 0, 0, below_world_size);
    if (local_rank) {
      environment.local_rank = parse_bounded("LOCAL_RANK", *local_rank, 0, kIntMax, "must not be negative");
    }
    return environment;
  }
  const auto master_addr = lookup(variables, "MASTER_ADDR"), master_port = lookup(variables, "MASTER_PORT");
  for (const auto& [name, value] : {std::pair{"RANK", rank}, {"LOCAL_RANK", local_rank}, {"MASTER_ADDR", master_addr},
                                    {"MASTER_PORT", master_port}}) {
    if (!value) {
      throw Error(std::string("environment variable ") + name + " is not set (needed when WORLD_SIZE=" +
                  std::to_string(environment.world_size) + ")");
    }
  }
  environment.rank = parse_bounded("RANK", *rank, 0, environment.world_size - 1, below_world_size);
  environment.local_rank = parse_bounded("LOCAL_RANK", *local_rank, 0, environment.world_size - 1, below_world_size);
  if (master_addr->empty()) throw Error("environment variable MASTER_ADDR is empty");
  environment.master_addr = *master_addr;
  environment.master_port = parse_bounded("MASTER_PORT", *master_port, 1, 65535, "must be from 1 to 65535");
  return environment;
}

DistributedEnvironment distributed_environment() {
  std::map<std::string, std::string> variables;
  for (const char* name : kEnvironmentNames) {
    if (const char* value = std::getenv(name)) variables[name] = value;
  }
  return parse_distributed_environment(variables);
}

bool gloo_available() {
#ifdef TOKENFLOW_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

struct DataParallelGroup::Collectives {
  c10::intrusive_ptr<Backend> backend;
  torch::Device device;  // where buffers travel from: the CPU for Gloo, this rank's GPU for NCCL
  std::string name;      // "rank R of N", for errors

  // Runs `operation`, turning a failure (a peer gone, a timeout) into one line that names the rank.
  template <typename Operation>
  void run(const char* what, Operation&& operation) {
    try {
      operation();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(name + ": " + what + " failed (" + reason(e) + ")");
    }
  }

  void sum(const torch::Tensor& buffer) {
    std::vector<at::Tensor> tensors{buffer};
    backend->allreduce(tensors)->wait();
  }

  void broadcast_from_rank0(const torch::Tensor& buffer) {
    std::vector<at::Tensor> tensors{buffer};
    backend->broadcast(tensors)->wait();
  }
};

DataParallelGroup::DataParallelGroup() = default;
DataParallelGroup::DataParallelGroup(DataParallelGroup&&) noexcept = default;
DataParallelGroup& DataParallelGroup::operator=(DataParallelGroup&&) noexcept = default;
DataParallelGroup::~DataParallelGroup() = default;

DataParallelGroup::DataParallelGroup(const DistributedEnvironment& environment,
                                     [[maybe_unused]] const torch::Device& device,
                                     std::chrono::milliseconds timeout)
    : rank_(environment.rank), world_size_(environment.world_size), local_rank_(environment.local_rank) {
  const std::string name = "rank " + std::to_string(rank_) + " of " + std::to_string(world_size_);
  if (world_size_ < 1 || rank_ < 0 || rank_ >= world_size_) throw Error(name + ": no such rank");
  if (world_size_ == 1) return;
  const std::string address = environment.master_addr + ":" + std::to_string(environment.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(environment.master_port);
    store_options.isServer = rank_ == 0;
    store_options.numWorkers = static_cast<std::size_t>(world_size_);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    const auto store = c10::make_intrusive<c10d::TCPStore>(environment.master_addr, store_options);

    c10::intrusive_ptr<Backend> backend;
    torch::Device buffer_device = torch::kCPU;
#ifdef TOKENFLOW_HAVE_NCCL
    if (device.is_cuda()) {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank_, world_size_, options);
      buffer_device = device.has_index() ? device : torch::Device(torch::kCUDA, local_rank_);
    }
#endif
    if (!backend) {
#ifdef TOKENFLOW_HAVE_GLOO
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(gloo_device(environment.master_addr));
      backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank_, world_size_, options);
#else
      throw Error(name + ": this LibTorch has no Gloo, which carries CPU tensors between ranks");
#endif
    }
    collectives_ = std::make_unique<Collectives>(Collectives{std::move(backend), buffer_device, name});
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::ostringstream within;
    within << " within " << std::chrono::duration<double>(timeout).count() << " s";
    throw Error(name + ": cannot join the group at " + address + within.str() + " (" + reason(e) + ")");
  }
}

DataParallelGroup DataParallelGroup::from_environment(const torch::Device& device,
                                                      std::chrono::milliseconds timeout) {
  return DataParallelGroup(distributed_environment(), device, timeout);
}

void DataParallelGroup::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors) {
  if (!collectives_) return;
  collectives_->run("broadcast", [&] {
    torch::NoGradGuard no_grad;
    for (const Bucket& bucket : buckets_of(tensors)) {
      std::vector<torch::Tensor> flat_parts;
      for (size_t i = bucket.begin; i < bucket.end; ++i) {
        flat_parts.push_back(tensors[i].reshape(-1).to(collectives_->device));
      }
      const auto flat = torch::cat(flat_parts);
      collectives_->broadcast_from_rank0(flat);
      int64_t offset = 0;
      for (size_t i = bucket.begin; i < bucket.end; ++i) {
        const int64_t numel = tensors[i].numel();
        tensors[i].copy_(flat.slice(0, offset, offset + numel).view(tensors[i].sizes()));
        offset += numel;
      }
    }
  });
}

void DataParallelGroup::average_gradients(const std::vector<torch::Tensor>& parameters) {
  for (const auto& parameter : parameters) {
    if (parameter.grad().defined() && parameter.grad().is_sparse()) {
      throw Error("average_gradients: sparse gradients are not supported");
    }
  }
  if (!collectives_) return;
  collectives_->run("gradient all-reduce", [&] {
    torch::NoGradGuard no_grad;
    // How many ranks have each gradient, so that all ranks exchange the same list.
    std::vector<int32_t> has_gradient;
    for (const auto& parameter : parameters) has_gradient.push_back(parameter.grad().defined() ? 1 : 0);
    auto ranks_with_gradient = torch::tensor(has_gradient, torch::dtype(torch::kInt32)).to(collectives_->device);
    collectives_->sum(ranks_with_gradient);
    ranks_with_gradient = ranks_with_gradient.cpu().contiguous();
    const int32_t* counts = ranks_with_gradient.data_ptr<int32_t>();
    std::vector<torch::Tensor> exchanged;
    for (size_t i = 0; i < parameters.size(); ++i) {
      if (counts[i] > 0) exchanged.push_back(parameters[i]);
    }

    for (const Bucket& bucket : buckets_of(exchanged)) {
      const auto flat = torch::zeros(
          {bucket.numel}, torch::dtype(exchanged[bucket.begin].scalar_type()).device(collectives_->device));
      int64_t offset = 0;
      for (size_t i = bucket.begin; i < bucket.end; ++i) {
        const int64_t numel = exchanged[i].numel();
        const auto& gradient = exchanged[i].grad();
        if (gradient.defined()) flat.slice(0, offset, offset + numel).copy_(gradient.reshape(-1));
        offset += numel;
      }
      collectives_->sum(flat);
      flat.div_(world_size_);
      offset = 0;
      for (size_t i = bucket.begin; i < bucket.end; ++i) {
        const int64_t numel = exchanged[i].numel();
        const auto mean = flat.slice(0, offset, offset + numel).view(exchanged[i].sizes());
        auto& gradient = exchanged[i].mutable_grad();
        if (!gradient.defined()) gradient = torch::empty_like(exchanged[i]);
        gradient.copy_(mean);
        offset += numel;
      }
    }
  });
}

std::vector<double> DataParallelGroup::all_reduce(const std::vector<double>& values, Reduction reduction) {
  if (!collectives_ || values.empty()) return values;
  std::vector<double> result(values.size());
  collectives_->run("all-reduce", [&] {
    auto buffer = torch::tensor(values, torch::dtype(torch::kDouble)).to(collectives_->device);
    collectives_->sum(buffer);
    if (reduction == Reduction::mean) buffer.div_(world_size_);
    buffer = buffer.cpu().contiguous();
    std::copy_n(buffer.data_ptr<double>(), result.size(), result.begin());
  });
  return result;
}

void DataParallelGroup::barrier() {
  if (!collectives_) return;
  // A one-element all-reduce rather than the backends' barrier(): NCCL's guesses a GPU for it,
  // and every collective here already waits for its own completion.
  collectives_->run("barrier", [&] {
    collectives_->sum(torch::zeros({1}, torch::dtype(torch::kInt32).device(collectives_->device)));
  });
}

}  // namespace tokenflow::train
