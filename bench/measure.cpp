#include "measure.h"

#include <tokenflow/error.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <vector>

namespace tokenflow::bench {

double seconds_of(const std::function<void()>& run) {
  const auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double time_median(int repeats, const std::function<void()>& run) {
  run();
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) seconds.push_back(seconds_of(run));
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

Figures in_child(const std::function<Figures()>& job) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw Error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    std::ostringstream out;
    try {
      for (const auto& [key, value] : job()) out << key << ' ' << value << '\n';
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tokenflow_bench: %s\n", e.what());
      _exit(1);
    }
    const std::string text = out.str();
    if (write(pipe_fds[1], text.data(), text.size()) < 0) _exit(1);
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("a benchmark child process failed");
  Figures f;
  std::istringstream in(text);
  for (std::string key; in >> key;) in >> f[key];
  f["peak_rss_mib"] = usage.ru_maxrss / 1024.0;
  return f;
}

}  // namespace tokenflow::bench
