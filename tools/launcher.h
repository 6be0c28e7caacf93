#pragma once
// `tokenflow train --nproc N`: starts the ranks of a data-parallel run on this machine, as torchrun
// does, each a copy of this executable (src/train/distributed.h joins them into one group).
#include <string>
#include <vector>

namespace tokenflow::cli {

// `arguments` (a whole argv) without the `--nproc N` or `--nproc=N` option, for the workers that
// run_local_workers() starts. Arguments after `--` are left alone. Throws tokenflow::Error when
// --nproc has no value.
std::vector<std::string> remove_nproc_option(const std::vector<std::string>& arguments);

// A TCP port on 127.0.0.1 that nothing listens on now (run_local_workers' MASTER_PORT).
int unused_local_port();

// Runs `process_count` copies of this executable with `arguments` less --nproc, as ranks 0..N-1 of
// a group on this machine (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1
// and a free MASTER_PORT set in their environment), and waits for all of them. When one fails the
// others are stopped (SIGTERM, then SIGKILL after a few seconds) and a tokenflow::Error names the
// rank and how it ended. The workers also get SIGTERM if this process dies.
void run_local_workers(const std::vector<std::string>& arguments, int process_count);

}  // namespace tokenflow::cli
