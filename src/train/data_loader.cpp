#include "train/data_loader.h"

#include "io/image.h"
#include "train/augment.h"

#include <tokenflow/error.h>
#include <tokenflow/runtime.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <numeric>

namespace tokenflow::train {

namespace {

// An unreadable image is replaced by another; this many unreadable ones in a row for one sample means
// the data is broken rather than a few files, and stops the run.
constexpr int kMaxAttempts = 100;
constexpr size_t kReportedErrors = 5;
// Keeps the keys that draw replacements apart from those of the augmentation.
constexpr uint64_t kReplacementKey = 0x7265706c61636521ULL;

}  // namespace

std::vector<int64_t> distributed_sampler_indices(int64_t dataset_size, uint64_t seed, int64_t epoch, int rank,
                                                 int world_size, bool shuffle) {
  if (dataset_size < 1) throw Error("training data: no images to sample");
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw Error("training data: rank " + std::to_string(rank) + " is not in a world of size " +
                std::to_string(world_size));
  }
  std::vector<int64_t> order(dataset_size);
  if (shuffle) {
    const torch::Tensor permutation =
        torch::randperm(dataset_size, at::make_generator<at::CPUGeneratorImpl>(seed + static_cast<uint64_t>(epoch)),
                        torch::kLong);
    std::copy_n(permutation.data_ptr<int64_t>(), dataset_size, order.begin());
  } else {
    std::iota(order.begin(), order.end(), 0);
  }
  // The padding repeats the order from its start, as often as needed.
  const int64_t total = (dataset_size + world_size - 1) / world_size * world_size;
  std::vector<int64_t> indices;
  for (int64_t position = rank; position < total; position += world_size) {
    indices.push_back(order[position % dataset_size]);
  }
  return indices;
}

DataLoader::DataLoader(const ImageDataset& dataset, const DataLoaderOptions& options, int64_t start_epoch,
                       int64_t start_step)
    : dataset_(dataset),
      options_(options),
      batch_size_(options.world_size > 0 ? options.global_batch_size / options.world_size : 0) {
  if (options.image_size <= 0) {
    throw Error("training data: image size must be positive, got " + std::to_string(options.image_size));
  }
  if (options.global_batch_size <= 0 || options.world_size <= 0 ||
      options.global_batch_size % options.world_size != 0) {
    throw Error("training data: the global batch size " + std::to_string(options.global_batch_size) +
                " must be a positive multiple of the world size " + std::to_string(options.world_size));
  }
  if (options.workers < 0 || options.prefetch_batches < 1) {
    throw Error("training data: need workers >= 0 and prefetch_batches >= 1");
  }
  if (start_epoch < 0 || start_step < 0) throw Error("training data: the start epoch and step must not be negative");

  const auto dataset_size = static_cast<int64_t>(dataset.size());
  const int64_t rank_share = (dataset_size + options.world_size - 1) / options.world_size;  // padded
  steps_per_epoch_ = rank_share / batch_size_;
  if (steps_per_epoch_ == 0) {
    throw Error("training data: " + std::to_string(dataset_size) + " images give each of the " +
                std::to_string(options.world_size) + " ranks " + std::to_string(rank_share) +
                ", less than a batch of " + std::to_string(batch_size_));
  }
  next_epoch_ = start_epoch + start_step / steps_per_epoch_;
  next_step_ = start_step % steps_per_epoch_;
  sampled_indices_ = distributed_sampler_indices(dataset_size, options.seed, next_epoch_, options.rank,
                                                 options.world_size, options.shuffle);
  sampled_epoch_ = next_epoch_;

  // The batches are filled with exactly the values io::to_tensor gives (ToTensor + Normalize).
  io::RgbImage levels{256, 1, std::vector<uint8_t>(256 * 3)};
  for (int level = 0; level < 256; ++level) {
    std::fill_n(levels.pixels.begin() + level * 3, 3, static_cast<uint8_t>(level));
  }
  const torch::Tensor normalized = io::to_tensor(levels);
  std::copy_n(normalized.data_ptr<float>(), 256, normalized_levels_.begin());

  const int worker_count = options.workers > 0 ? options.workers : std::max(1, cpu_cores() - 1);
  // Enough batches under way for every worker to have a sample.
  queue_capacity_ = static_cast<size_t>(
      std::max<int64_t>(options.prefetch_batches, (worker_count + batch_size_ - 1) / batch_size_ + 1));
  try {
    for (int i = 0; i < worker_count; ++i) workers_.emplace_back(&DataLoader::work, this);
  } catch (...) {
    stop();
    throw;
  }
}

DataLoader::~DataLoader() { stop(); }

void DataLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_available_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

Batch DataLoader::next() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  batch_finished_.wait(lock, [&] { return failure_ || (!queue_.empty() && queue_.front()->unfinished == 0); });
  if (failure_) std::rethrow_exception(failure_);
  Batch batch = std::move(queue_.front()->batch);
  queue_.pop_front();
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lock.unlock();
  work_available_.notify_all();
  return batch;
}

double DataLoader::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_seconds_;
}

SkippedImages DataLoader::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

void DataLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    int64_t slot = 0;
    PendingBatch* pending = nullptr;
    while (!stopping_ && (pending = claim(slot)) == nullptr) work_available_.wait(lock);
    if (stopping_) return;
    lock.unlock();
    try {
      fill(*pending, slot);
    } catch (...) {
      lock.lock();
      if (!failure_) failure_ = std::current_exception();
      stopping_ = true;
      work_available_.notify_all();
      batch_finished_.notify_all();
      return;
    }
    lock.lock();
    if (--pending->unfinished == 0) batch_finished_.notify_all();
  }
}

DataLoader::PendingBatch* DataLoader::claim(int64_t& slot) {
  if (!queue_.empty() && queue_.back()->claimed < batch_size_) {
    slot = queue_.back()->claimed++;
    return queue_.back().get();
  }
  if (queue_.size() >= queue_capacity_) return nullptr;

  if (sampled_epoch_ != next_epoch_) {
    sampled_indices_ = distributed_sampler_indices(static_cast<int64_t>(dataset_.size()), options_.seed, next_epoch_,
                                                   options_.rank, options_.world_size, options_.shuffle);
    sampled_epoch_ = next_epoch_;
  }
  auto pending = std::make_unique<PendingBatch>();
  pending->batch.epoch = next_epoch_;
  pending->batch.step = next_step_;
  const auto first = sampled_indices_.begin() + next_step_ * batch_size_;
  pending->batch.indices.assign(first, first + batch_size_);
  pending->batch.images = torch::empty({batch_size_, 3, options_.image_size, options_.image_size}, torch::kFloat32);
  pending->claimed = 1;
  pending->unfinished = batch_size_;
  if (++next_step_ == steps_per_epoch_) {
    next_step_ = 0;
    ++next_epoch_;
  }
  slot = 0;
  queue_.push_back(std::move(pending));
  return queue_.back().get();
}

void DataLoader::fill(PendingBatch& pending, int64_t slot) {
  const int size = options_.image_size;
  const auto epoch = static_cast<uint64_t>(pending.batch.epoch);
  const int64_t sampled = pending.batch.indices[slot];
  int64_t index = sampled;
  for (int attempt = 1;; ++attempt) {
    try {
      io::RgbImage image = dataset_.load(static_cast<size_t>(index));
      if (options_.crop == Crop::Center) {
        image = io::center_crop_arr(std::move(image), size);
      } else {
        SampleRandom random({options_.seed, epoch, static_cast<uint64_t>(index)});
        image = augment_for_training(std::move(image), size, random);
      }
      const size_t plane = static_cast<size_t>(size) * size;
      float* out = pending.batch.images.data_ptr<float>() + slot * 3 * plane;
      for (size_t pixel = 0; pixel < plane; ++pixel) {
        for (size_t channel = 0; channel < 3; ++channel) {
          out[channel * plane + pixel] = normalized_levels_[image.pixels[pixel * 3 + channel]];
        }
      }
      pending.batch.indices[slot] = index;
      return;
    } catch (const Error& error) {
      record_skip(index, error.what());
      if (attempt == kMaxAttempts) {
        throw Error(std::string(error.what()) + " (the last of " + std::to_string(kMaxAttempts) +
                    " unreadable images in a row; is the training data broken?)");
      }
      SampleRandom replacement({options_.seed, epoch, static_cast<uint64_t>(sampled), static_cast<uint64_t>(attempt),
                                kReplacementKey});
      index = replacement.below(static_cast<int64_t>(dataset_.size()));
    }
  }
}

void DataLoader::record_skip(int64_t index, const std::string& error) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++skipped_.count;
  if (skipped_.first_errors.size() < kReportedErrors &&
      std::find(skipped_indices_.begin(), skipped_indices_.end(), index) == skipped_indices_.end()) {
    skipped_indices_.push_back(index);
    skipped_.first_errors.push_back(error);
  }
}

}  // namespace tokenflow::train
