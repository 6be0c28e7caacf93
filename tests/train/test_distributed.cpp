// Data-parallel training: the torchrun environment, the collectives between two ranks of one
// process (two threads over Gloo on loopback), the central property that N ranks with batch b
// train exactly as one process with batch N*b, and ranks started as processes by
// run_local_workers(), which re-runs this executable on one test (the test body sees RANK set).
#include "launcher.h"
#include "train/distributed.h"

#include <tokenflow/error.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <thread>

namespace tokenflow::train {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using cli::remove_nproc_option;
using cli::run_local_workers;
using cli::unused_local_port;

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- the environment ----

TEST(DistributedEnvironment, NoWorldSizeOrOneIsASingleProcess) {
  for (const auto& variables : std::vector<std::map<std::string, std::string>>{
           {}, {{"WORLD_SIZE", "1"}}, {{"WORLD_SIZE", "1"}, {"RANK", "0"}, {"LOCAL_RANK", "0"}}}) {
    const auto environment = parse_distributed_environment(variables);
    EXPECT_EQ(environment.world_size, 1);
    EXPECT_EQ(environment.rank, 0);
    EXPECT_EQ(environment.local_rank, 0);
  }
}

TEST(DistributedEnvironment, ReadsTorchrunsVariables) {
  const auto environment = parse_distributed_environment({{"WORLD_SIZE", "8"},
                                                          {"RANK", "5"},
                                                          {"LOCAL_RANK", "1"},
                                                          {"MASTER_ADDR", "node0"},
                                                          {"MASTER_PORT", "29500"}});
  EXPECT_EQ(environment.world_size, 8);
  EXPECT_EQ(environment.rank, 5);
  EXPECT_EQ(environment.local_rank, 1);
  EXPECT_EQ(environment.master_addr, "node0");
  EXPECT_EQ(environment.master_port, 29500);
}

TEST(DistributedEnvironment, MalformedVariablesAreOneLineErrorsNamingTheVariable) {
  const std::map<std::string, std::string> good = {
      {"WORLD_SIZE", "2"}, {"RANK", "1"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  const auto error_with = [&](const std::string& name, const std::optional<std::string>& value) {
    auto variables = good;
    if (value) {
      variables[name] = *value;
    } else {
      variables.erase(name);
    }
    return error_of([&] { parse_distributed_environment(variables); });
  };
  EXPECT_EQ(error_with("WORLD_SIZE", "two"), "environment variable WORLD_SIZE='two' is not an integer");
  EXPECT_EQ(error_with("RANK", "1x"), "environment variable RANK='1x' is not an integer");
  EXPECT_EQ(error_with("RANK", ""), "environment variable RANK='' is not an integer");
  EXPECT_EQ(error_with("WORLD_SIZE", "0"), "environment variable WORLD_SIZE=0 must be at least 1");
  EXPECT_EQ(error_with("RANK", "2"), "environment variable RANK=2 must be from 0 to WORLD_SIZE - 1 (WORLD_SIZE=2)");
  EXPECT_EQ(error_with("RANK", "-1"), "environment variable RANK=-1 must be from 0 to WORLD_SIZE - 1 (WORLD_SIZE=2)");
  EXPECT_EQ(error_with("LOCAL_RANK", "3"),
            "environment variable LOCAL_RANK=3 must be from 0 to WORLD_SIZE - 1 (WORLD_SIZE=2)");
  EXPECT_EQ(error_with("MASTER_PORT", "70000"), "environment variable MASTER_PORT=70000 must be from 1 to 65535");
  EXPECT_EQ(error_with("MASTER_ADDR", std::nullopt),
            "environment variable MASTER_ADDR is not set (needed when WORLD_SIZE=2)");
  EXPECT_EQ(error_with("MASTER_PORT", std::nullopt),
            "environment variable MASTER_PORT is not set (needed when WORLD_SIZE=2)");
  EXPECT_EQ(error_with("RANK", std::nullopt), "environment variable RANK is not set (needed when WORLD_SIZE=2)");
  EXPECT_EQ(error_with("MASTER_ADDR", ""), "environment variable MASTER_ADDR is empty");
  EXPECT_EQ(error_of([] { parse_distributed_environment({{"RANK", "1"}}); }),
            "environment variable RANK=1 must be from 0 to WORLD_SIZE - 1 (WORLD_SIZE=1)");
}

// ---- --nproc ----

TEST(RemoveNprocOption, DropsTheOptionInBothSpellings) {
  using Arguments = std::vector<std::string>;
  EXPECT_EQ(remove_nproc_option({"tokenflow", "train", "--nproc", "2", "-o", "run"}),
            (Arguments{"tokenflow", "train", "-o", "run"}));
  EXPECT_EQ(remove_nproc_option({"tokenflow", "train", "data", "--nproc=2"}),
            (Arguments{"tokenflow", "train", "data"}));
  EXPECT_EQ(remove_nproc_option({"tokenflow", "train", "-o", "run"}), (Arguments{"tokenflow", "train", "-o", "run"}));
  // After `--` every argument is an operand, even one spelled like the option.
  EXPECT_EQ(remove_nproc_option({"tokenflow", "train", "--nproc", "2", "--", "--nproc", "4"}),
            (Arguments{"tokenflow", "train", "--", "--nproc", "4"}));
  EXPECT_EQ(error_of([] { remove_nproc_option({"tokenflow", "train", "--nproc"}); }), "--nproc needs a value");
}

// ---- one process ----

TEST(DataParallelGroup, ASingleProcessLeavesEverythingAsItIs) {
  DataParallelGroup group;
  EXPECT_EQ(group.world_size(), 1);
  auto parameter = torch::randn({3}, torch::requires_grad());
  parameter.mutable_grad() = torch::randn({3});
  const auto weights = parameter.detach().clone(), gradient = parameter.grad().clone();
  group.broadcast_from_rank0({parameter});
  group.average_gradients({parameter});
  group.barrier();
  EXPECT_TRUE(torch::equal(parameter.detach(), weights));
  EXPECT_TRUE(torch::equal(parameter.grad(), gradient));
  EXPECT_EQ(group.all_reduce({1.5, -2.0}, DataParallelGroup::Reduction::mean), (std::vector<double>{1.5, -2.0}));
}

// ---- two ranks on two threads ----

// Runs body(group) for ranks 0 and 1 of a group on 127.0.0.1, each on its own thread, and rethrows
// the first failure.
void on_two_ranks(const std::function<void(DataParallelGroup&)>& body, milliseconds timeout = seconds(60)) {
  const int port = unused_local_port();
  std::exception_ptr failures[2];
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        DataParallelGroup group(DistributedEnvironment{rank, 2, rank, "127.0.0.1", port}, torch::kCPU, timeout);
        body(group);
      } catch (...) {
        failures[rank] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

class TwoRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gloo_available()) GTEST_SKIP() << "this LibTorch has no Gloo";
  }
};

TEST_F(TwoRanks, BroadcastGivesEveryRankRank0sValues) {
  // Built on this thread: LibTorch's random generator is shared by the threads.
  std::vector<std::vector<torch::Tensor>> tensors(2);
  for (int rank = 0; rank < 2; ++rank) {
    torch::manual_seed(rank);
    tensors[rank] = {torch::randn({4, 5}, torch::requires_grad()), torch::randn({7}, torch::dtype(torch::kDouble)),
                     torch::randint(0, 100, {3}, torch::kLong), torch::randn({2, 3}).t()};
  }
  std::vector<torch::Tensor> rank0_values;
  for (const auto& tensor : tensors[0]) rank0_values.push_back(tensor.detach().clone());

  on_two_ranks([&](DataParallelGroup& group) { group.broadcast_from_rank0(tensors[group.rank()]); });
  for (int rank = 0; rank < 2; ++rank) {
    for (size_t i = 0; i < rank0_values.size(); ++i) {
      EXPECT_TRUE(torch::equal(tensors[rank][i].detach(), rank0_values[i])) << "rank " << rank << ", tensor " << i;
    }
  }
}

TEST_F(TwoRanks, AveragedGradientsAreTheMeanOfTheRanksGradients) {
  // 4M + 3M + 1M floats (32 MB) span two 25 MB buckets; the double tensor starts a bucket of its own.
  const std::vector<std::vector<int64_t>> shapes = {{1024, 4096}, {3, 1024, 1024}, {1 << 20}, {5, 3}, {6}, {2}, {4}};
  const std::vector<torch::Dtype> dtypes = {torch::kFloat, torch::kFloat, torch::kFloat, torch::kDouble,
                                            torch::kFloat, torch::kFloat, torch::kFloat};
  const size_t only_on_rank0 = 5, on_no_rank = 6;
  std::vector<std::vector<torch::Tensor>> parameters(2);
  std::vector<torch::Tensor> expected;
  torch::manual_seed(0);
  for (size_t i = 0; i < shapes.size(); ++i) {
    torch::Tensor gradients[2];
    for (int rank = 0; rank < 2; ++rank) {
      auto parameter = torch::zeros(shapes[i], torch::dtype(dtypes[i]).requires_grad(true));
      gradients[rank] = torch::randn(shapes[i], torch::dtype(dtypes[i]));
      const bool has_gradient = i == on_no_rank ? false : i == only_on_rank0 ? rank == 0 : true;
      if (has_gradient) parameter.mutable_grad() = gradients[rank].clone();
      parameters[rank].push_back(parameter);
    }
    expected.push_back(i == only_on_rank0 ? gradients[0] / 2 : (gradients[0] + gradients[1]) / 2);
  }

  on_two_ranks([&](DataParallelGroup& group) { group.average_gradients(parameters[group.rank()]); });
  for (int rank = 0; rank < 2; ++rank) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const auto& gradient = parameters[rank][i].grad();
      if (i == on_no_rank) {
        EXPECT_FALSE(gradient.defined()) << "rank " << rank;
        continue;
      }
      ASSERT_TRUE(gradient.defined()) << "rank " << rank << ", parameter " << i;
      EXPECT_TRUE(torch::allclose(gradient, expected[i], 1e-6, 1e-7)) << "rank " << rank << ", parameter " << i;
    }
  }
}

TEST_F(TwoRanks, SumsAndAveragesNumbers) {
  std::vector<double> sums[2], means[2];
  on_two_ranks([&](DataParallelGroup& group) {
    const double r = group.rank();
    sums[group.rank()] = group.all_reduce({r + 1, 10 * (r + 1)}, DataParallelGroup::Reduction::sum);
    group.barrier();
    means[group.rank()] = group.all_reduce({r + 1, 10 * (r + 1)}, DataParallelGroup::Reduction::mean);
  });
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(sums[rank], (std::vector<double>{3, 30}));
    EXPECT_EQ(means[rank], (std::vector<double>{1.5, 15}));
  }
}

// A small network with a convolution and two linear layers; tanh rather than ReLU keeps every
// gradient away from zero, where Adam's first step (about lr * sign(g)) would magnify rounding.
struct TinyNet : torch::nn::Module {
  TinyNet() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).padding(1)));
    hidden = register_module("hidden", torch::nn::Linear(4 * 4 * 4, 8));
    out = register_module("out", torch::nn::Linear(8, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return out(torch::tanh(hidden(torch::tanh(conv(x)).flatten(1))));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear hidden{nullptr}, out{nullptr};
};

// Three Adam steps on the batches of `inputs`/`targets` (rows [first, first + count) of each) with
// a loss that is a mean over the batch, averaging gradients through `group`.
void train_three_steps(TinyNet& net, DataParallelGroup& group, const std::vector<torch::Tensor>& inputs,
                       const std::vector<torch::Tensor>& targets, int64_t first, int64_t count) {
  group.broadcast_from_rank0(net.parameters());
  torch::optim::Adam optimizer(net.parameters(), torch::optim::AdamOptions(1e-2));
  for (size_t step = 0; step < inputs.size(); ++step) {
    optimizer.zero_grad();
    const auto prediction = net.forward(inputs[step].narrow(0, first, count));
    torch::mse_loss(prediction, targets[step].narrow(0, first, count)).backward();
    group.average_gradients(net.parameters());
    optimizer.step();
  }
}

TEST_F(TwoRanks, TwoRanksWithBatchBTrainAsOneProcessWithBatch2B) {
  constexpr int64_t kBatchPerRank = 3;
  torch::manual_seed(0);
  std::vector<torch::Tensor> inputs, targets;
  for (int step = 0; step < 3; ++step) {
    inputs.push_back(torch::randn({2 * kBatchPerRank, 3, 4, 4}));
    targets.push_back(torch::randn({2 * kBatchPerRank, 2}));
  }
  // Different initial weights on each rank: the broadcast must make them rank 0's.
  torch::manual_seed(1);
  TinyNet one_process;
  std::vector<std::shared_ptr<TinyNet>> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    torch::manual_seed(rank == 0 ? 1 : 2);
    ranks.push_back(std::make_shared<TinyNet>());
  }

  DataParallelGroup alone;
  train_three_steps(one_process, alone, inputs, targets, 0, 2 * kBatchPerRank);
  on_two_ranks([&](DataParallelGroup& group) {
    train_three_steps(*ranks[group.rank()], group, inputs, targets, group.rank() * kBatchPerRank, kBatchPerRank);
  });

  const auto expected = one_process.parameters();
  for (int rank = 0; rank < 2; ++rank) {
    const auto trained = ranks[rank]->parameters();
    for (size_t i = 0; i < expected.size(); ++i) {
      const double difference = (trained[i] - expected[i]).abs().max().item<double>();
      EXPECT_LT(difference, 1e-5) << "rank " << rank << ", parameter " << i;
    }
  }
}

TEST_F(TwoRanks, ARankThatNeverComesTimesOutInsteadOfHanging) {
  const int port = unused_local_port();
  const auto start = steady_clock::now();
  const std::string server_error = error_of([&] {
    DataParallelGroup(DistributedEnvironment{0, 2, 0, "127.0.0.1", port}, torch::kCPU, seconds(1));
  });
  EXPECT_TRUE(contains(server_error, "rank 0 of 2: cannot join the group at 127.0.0.1:" + std::to_string(port)))
      << server_error;
  const std::string client_error = error_of([&] {
    DataParallelGroup(DistributedEnvironment{1, 2, 1, "127.0.0.1", port}, torch::kCPU, seconds(1));
  });
  EXPECT_TRUE(contains(client_error, "rank 1 of 2: cannot join the group")) << client_error;
  EXPECT_LT(steady_clock::now() - start, seconds(30));
}

TEST_F(TwoRanks, ARankThatStopsTakingPartFailsTheCollectiveAfterTheTimeout) {
  std::string error;
  const auto start = steady_clock::now();
  on_two_ranks(
      [&](DataParallelGroup& group) {
        if (group.rank() == 0) error = error_of([&] { group.all_reduce({1.0}, DataParallelGroup::Reduction::sum); });
        // Rank 1 stays connected but idle past the timeout.
        if (group.rank() == 1) std::this_thread::sleep_for(seconds(4));
      },
      seconds(2));
  EXPECT_TRUE(contains(error, "rank 0 of 2: all-reduce failed")) << error;
  EXPECT_LT(steady_clock::now() - start, seconds(30));
}

// ---- ranks as processes ----

bool is_spawned_rank() { return std::getenv("RANK") != nullptr; }

// Runs this test again in `process_count` processes started by run_local_workers().
void run_this_test_as_ranks(int process_count) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  run_local_workers({"test_train_distributed", std::string("--gtest_filter=") + test->test_suite_name() + "." +
                                                   test->name(),
                     "--nproc", std::to_string(process_count)},
                    process_count);
}

TEST_F(TwoRanks, ProcessesStartedByRunLocalWorkersFormAGroup) {
  if (!is_spawned_rank()) {
    run_this_test_as_ranks(2);
    return;
  }
  auto group = DataParallelGroup::from_environment(torch::kCPU, seconds(60));
  ASSERT_EQ(group.world_size(), 2);
  EXPECT_EQ(group.local_rank(), group.rank());
  EXPECT_EQ(group.all_reduce({1.0 + group.rank()}, DataParallelGroup::Reduction::sum), std::vector<double>{3.0});
}

TEST_F(TwoRanks, AFailingRankStopsTheOthersAndIsNamed) {
  if (!is_spawned_rank()) {
    const auto start = steady_clock::now();
    const std::string error = error_of([] { run_this_test_as_ranks(2); });
    EXPECT_EQ(error, "rank 1 exited with status 3; the other ranks were stopped");
    EXPECT_LT(steady_clock::now() - start, seconds(60));  // two process starts on a busy machine
    return;
  }
  if (std::string(std::getenv("RANK")) == "1") std::_Exit(3);
  // Rank 0 waits for rank 1 to join, far longer than the test allows, until it is stopped.
  DataParallelGroup::from_environment(torch::kCPU, seconds(600));
  ADD_FAILURE() << "rank 0 was not stopped";
}

TEST_F(TwoRanks, APeerThatExitsFailsTheNextCollectiveAtOnce) {
  if (!is_spawned_rank()) {
    run_this_test_as_ranks(2);
    return;
  }
  auto group = DataParallelGroup::from_environment(torch::kCPU, seconds(600));
  if (group.rank() == 1) std::_Exit(0);  // closes its connections without a word
  const auto start = steady_clock::now();
  const std::string error = error_of([&] { group.all_reduce({1.0}, DataParallelGroup::Reduction::sum); });
  EXPECT_TRUE(contains(error, "rank 0 of 2: all-reduce failed")) << error;
  EXPECT_LT(steady_clock::now() - start, seconds(30));
}

}  // namespace
}  // namespace tokenflow::train
