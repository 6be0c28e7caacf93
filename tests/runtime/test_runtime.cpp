// The thread count the CLI and the library choose when none is given.
#include <tokenflow/tokenflow.h>

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace tokenflow {
namespace {

TEST(CpuCores, CountsNoMoreThanTheCpus) {
  const int cores = cpu_cores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

// The affinity mask is per thread on Linux, so narrowing it in a thread of its own leaves the test
// process as it was.
TEST(CpuCores, FollowsTheCpuAffinity) {
  int cores_on_one_cpu = 0;
  std::thread([&] {
    cpu_set_t allowed;
    ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    int first = 0;
    while (!CPU_ISSET(first, &allowed)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    cores_on_one_cpu = cpu_cores();
  }).join();
  EXPECT_EQ(cores_on_one_cpu, 1);
}

TEST(SetNumThreads, ZeroMeansOnePerCore) {
  const int before = torch::get_num_threads();
  set_num_threads(0);
  EXPECT_EQ(torch::get_num_threads(), cpu_cores());
  set_num_threads(1);
  EXPECT_EQ(torch::get_num_threads(), 1);
  torch::set_num_threads(before);
}

}  // namespace
}  // namespace tokenflow
