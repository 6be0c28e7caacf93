#pragma once
// The batches `tokenflow train` trains on: the official DistributedSampler + DataLoader(drop_last) +
// transform, with worker threads decoding and augmenting ahead of the model.
//
// Each epoch is shuffled as DistributedSampler(shuffle=True, seed) after set_epoch(epoch) does, padded
// to a multiple of the world size, and rank r takes positions r, r + w, ...; every full batch of the
// rank's share is a step, and a last incomplete one is dropped. An image's crop depends only on (seed,
// epoch, image), never on the number of threads, so the batches of step k are the same in an
// uninterrupted run and in one resumed at step k.
//
// An image that cannot be read or decoded is replaced by another one drawn from the same keys, so that
// batches stay full and the run stays reproducible; skipped() counts them for the trainer to report.
#include "train/dataset.h"

#include <torch/torch.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tokenflow::train {

enum class Crop {
  RandomWithFlip,  // training: random_crop_arr, then a horizontal flip half the time
  Center,          // validation: ADM's center_crop_arr
};

struct DataLoaderOptions {
  int image_size = 256;
  int64_t global_batch_size = 1;  // split evenly over the ranks (the official --global-batch-size)
  int rank = 0;
  int world_size = 1;
  uint64_t seed = 0;    // the official --global-seed
  bool shuffle = true;  // false: every epoch in dataset order
  Crop crop = Crop::RandomWithFlip;
  int workers = 0;           // decoding threads; 0: the machine's hardware threads less one, at least 1
  int prefetch_batches = 2;  // batches decoded ahead at most (more when the workers need them busy)
};

struct Batch {
  torch::Tensor images;          // per-rank batch x 3 x image_size x image_size, float32 in [-1, 1]
  std::vector<int64_t> indices;  // the dataset images in it, after replacing unreadable ones
  int64_t epoch = 0;
  int64_t step = 0;  // within the epoch
};

// Unreadable images met so far, in the batches delivered and those decoded ahead: how many times one
// was replaced, and the errors of the first few distinct ones (each names its image).
struct SkippedImages {
  int64_t count = 0;
  std::vector<std::string> first_errors;
};

// DistributedSampler's indices for one rank and epoch: torch.randperm(size) from a generator seeded
// with seed + epoch (LibTorch's CPU generator, so the order equals the official one on the same
// LibTorch version), padded with its own first indices to a multiple of world_size, then every
// world_size-th from position rank.
std::vector<int64_t> distributed_sampler_indices(int64_t dataset_size, uint64_t seed, int64_t epoch, int rank,
                                                 int world_size, bool shuffle);

class DataLoader {
 public:
  // Starts the workers on the batch of step `start_step` of epoch `start_epoch` (a step past the end
  // of the epoch counts on into the next ones). `dataset` must outlive the loader. Throws
  // tokenflow::Error for options that make no batch.
  DataLoader(const ImageDataset& dataset, const DataLoaderOptions& options, int64_t start_epoch = 0,
             int64_t start_step = 0);
  // Stops the workers, also in the middle of an epoch; batches decoded ahead are dropped.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int workers() const { return static_cast<int>(workers_.size()); }

  // The next batch in order, epoch after epoch without end; blocks until it is ready. Rethrows the
  // error that stopped a worker (too many unreadable images in a row).
  Batch next();

  // Seconds next() has spent waiting for data in all: when it grows as fast as the training time, the
  // model is waiting for the loader.
  double wait_seconds() const;
  SkippedImages skipped() const;

 private:
  // A batch being decoded: workers claim its samples in order and fill their slots in `images`.
  struct PendingBatch {
    Batch batch;
    int64_t claimed = 0;
    int64_t unfinished = 0;
  };

  void stop();
  void work();
  // Under the lock: the next sample to decode, starting a batch when the queue has room; null when
  // there is nothing to do.
  PendingBatch* claim(int64_t& slot);
  void fill(PendingBatch& pending, int64_t slot);
  void record_skip(int64_t index, const std::string& error);

  const ImageDataset& dataset_;
  const DataLoaderOptions options_;
  const int64_t batch_size_;
  int64_t steps_per_epoch_ = 0;
  size_t queue_capacity_ = 0;
  std::array<float, 256> normalized_levels_{};  // io::to_tensor's value of each 8-bit level

  mutable std::mutex mutex_;
  std::condition_variable work_available_;
  std::condition_variable batch_finished_;
  std::deque<std::unique_ptr<PendingBatch>> queue_;  // in step order; the front is delivered next
  int64_t next_epoch_ = 0;  // of the next batch to start
  int64_t next_step_ = 0;
  int64_t sampled_epoch_ = -1;  // the epoch whose indices sampled_indices_ holds
  std::vector<int64_t> sampled_indices_;
  bool stopping_ = false;
  std::exception_ptr failure_;
  double wait_seconds_ = 0;
  SkippedImages skipped_;
  std::vector<int64_t> skipped_indices_;  // the distinct images in skipped_.first_errors

  std::vector<std::thread> workers_;
};

}  // namespace tokenflow::train
