// `--nproc N`: the ranks of a data-parallel run started on this machine as torchrun starts them.
#include "launcher.h"

#include <tokenflow/error.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace tokenflow::cli {

namespace {

// How long stopped workers get to exit on SIGTERM before SIGKILL.
constexpr auto kWorkerStopGrace = std::chrono::seconds(5);

// The variables a worker gets from the launcher; the parent's own values of them are not inherited.
const char* const kEnvironmentNames[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                         "MASTER_PORT"};

std::string describe_end(int rank, int status) {
  const std::string who = "rank " + std::to_string(rank);
  if (WIFEXITED(status)) return who + " exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return who + " was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  }
  return who + " ended with wait status " + std::to_string(status);
}

void signal_workers(const std::vector<pid_t>& workers, int signal) {
  for (const pid_t worker : workers) {
    if (worker > 0) kill(worker, signal);
  }
}

// This process's environment less the variables that describe a rank, plus `rank`'s.
std::vector<std::string> worker_environment(int rank, int process_count, int port) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry; ++entry) {
    const std::string variable = *entry;
    const std::string name = variable.substr(0, variable.find('='));
    if (std::find(std::begin(kEnvironmentNames), std::end(kEnvironmentNames), name) == std::end(kEnvironmentNames)) {
      environment.push_back(variable);
    }
  }
  const std::string rank_text = std::to_string(rank), count_text = std::to_string(process_count);
  environment.push_back("RANK=" + rank_text);
  environment.push_back("WORLD_SIZE=" + count_text);
  environment.push_back("LOCAL_RANK=" + rank_text);
  environment.push_back("LOCAL_WORLD_SIZE=" + count_text);
  environment.push_back("MASTER_ADDR=127.0.0.1");
  environment.push_back("MASTER_PORT=" + std::to_string(port));
  return environment;
}

// A null-terminated char* array over `strings`, which must outlive it.
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Forks and execs this executable; the child touches only async-signal-safe calls, since the
// parent may have threads (LibTorch's pools) whose locks the child inherits held.
pid_t start_worker(std::vector<char*>& arguments, std::vector<char*>& environment) {
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child != 0) return child;
  // A worker must not outlive a supervisor that was killed before it could stop the workers.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);
  execve("/proc/self/exe", arguments.data(), environment.data());
  _exit(127);
}

}  // namespace

int unused_local_port() {
  const int socket_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (socket_fd < 0) throw Error(std::string("cannot open a socket to pick a port (") + std::strerror(errno) + ")");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // the kernel picks a free one
  socklen_t length = sizeof(address);
  const bool picked = bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                      getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  close(socket_fd);
  if (!picked) throw Error(std::string("cannot pick a free port on 127.0.0.1 (") + std::strerror(error) + ")");
  return ntohs(address.sin_port);
}

std::vector<std::string> remove_nproc_option(const std::vector<std::string>& arguments) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (i > 0 && argument == "--") {
      kept.insert(kept.end(), arguments.begin() + static_cast<std::ptrdiff_t>(i), arguments.end());
      break;
    }
    if (i > 0 && argument == "--nproc") {
      if (i + 1 == arguments.size()) throw Error("--nproc needs a value");
      ++i;
      continue;
    }
    if (i > 0 && argument.rfind("--nproc=", 0) == 0) continue;
    kept.push_back(argument);
  }
  return kept;
}

void run_local_workers(const std::vector<std::string>& arguments, int process_count) {
  if (process_count < 1) throw Error("--nproc must be at least 1, not " + std::to_string(process_count));
  if (arguments.empty()) throw Error("run_local_workers: no program arguments");
  std::vector<std::string> worker_arguments = remove_nproc_option(arguments);
  std::vector<char*> argument_pointers = c_array(worker_arguments);
  const int port = unused_local_port();

  std::vector<pid_t> workers;  // by rank; 0 once reaped
  for (int rank = 0; rank < process_count; ++rank) {
    std::vector<std::string> environment = worker_environment(rank, process_count, port);
    std::vector<char*> environment_pointers = c_array(environment);
    const pid_t worker = start_worker(argument_pointers, environment_pointers);
    if (worker < 0) {
      const std::string error = std::strerror(errno);
      signal_workers(workers, SIGKILL);
      for (const pid_t started : workers) waitpid(started, nullptr, 0);
      throw Error("cannot start rank " + std::to_string(rank) + " (" + error + ")");
    }
    workers.push_back(worker);
  }

  // Polls rather than blocking in waitpid(-1), which could reap children that are not workers.
  std::string failure;
  std::chrono::steady_clock::time_point kill_at;
  bool killed = false;
  for (int running = process_count; running > 0;) {
    for (int rank = 0; rank < process_count; ++rank) {
      if (workers[rank] == 0) continue;
      int status = 0;
      const pid_t ended = waitpid(workers[rank], &status, WNOHANG);
      if (ended == 0 || (ended < 0 && errno == EINTR)) continue;
      workers[rank] = 0;
      --running;
      const bool succeeded = ended > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!succeeded && failure.empty()) {
        failure = ended > 0 ? describe_end(rank, status) : "rank " + std::to_string(rank) + " could not be waited for";
        signal_workers(workers, SIGTERM);
        kill_at = std::chrono::steady_clock::now() + kWorkerStopGrace;
      }
    }
    if (!failure.empty() && !killed && std::chrono::steady_clock::now() >= kill_at) {
      signal_workers(workers, SIGKILL);
      killed = true;
    }
    if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!failure.empty()) throw Error(failure + "; the other ranks were stopped");
}

}  // namespace tokenflow::cli
