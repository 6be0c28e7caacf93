#pragma once
// What the benchmarks measure with: median wall times, and jobs run in a child process so that each
// reports its own peak memory.
#include <functional>
#include <map>
#include <string>

namespace tokenflow::bench {

using Figures = std::map<std::string, double>;

// Wall seconds of one run.
double seconds_of(const std::function<void()>& run);

// Median wall seconds of `repeats` runs after one warm-up run.
double time_median(int repeats, const std::function<void()>& run);

// `value` with `digits` decimals, for the benchmarks' tables.
std::string fixed(double value, int digits);

// Runs `job` in a child process; returns its figures plus its peak RSS in MiB ("peak_rss_mib").
Figures in_child(const std::function<Figures()>& job);

}  // namespace tokenflow::bench
