// The training data pipeline: image sources (folder, list file, tar shards), the official augmentation
// against Pillow, DistributedSampler's order, and the loader's determinism, resume, sharding and
// handling of unreadable images.
#include "io/image.h"
#include "io/io_test_util.h"
#include "train/augment.h"
#include "train/data_loader.h"
#include "train/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <thread>

namespace tokenflow::train {
namespace {

using io::test::contains;
using io::test::error_of;
using io::test::read_bytes;
using io::test::ScratchDir;
using io::test::write_bytes;

constexpr int kImageSize = 16;

// Random PNGs of assorted sizes (wider, taller, smaller than kImageSize) at the given paths, which are
// relative to `dir`; folders are created as needed.
void write_images(const ScratchDir& dir, const std::vector<std::string>& names) {
  torch::manual_seed(1);
  const int64_t sizes[][2] = {{40, 30}, {24, 37}, {16, 16}, {11, 20}, {64, 48}};
  for (size_t i = 0; i < names.size(); ++i) {
    std::filesystem::create_directories(std::filesystem::path(dir.file(names[i])).parent_path());
    const auto& [height, width] = sizes[i % std::size(sizes)];
    io::save_image(dir.file(names[i]), torch::rand({3, height, width}) * 2 - 1);
  }
}

// Sorted, so that a folder lists them in this order.
const std::vector<std::string> kImageNames = {"a/0.png", "a/1.png", "a/b/2.png", "c/3.PNG", "c/4.png",
                                              "c/5.png", "d/6.png", "d/7.png", "d/8.png", "d/9.png"};

// A tar archive written by hand, header by header.
class TarWriter {
 public:
  // A member of `type`; names up to 100 characters fit the name field, longer ones go through
  // `long_name` below. `posix` writes the POSIX magic "ustar\0" (with `prefix`), else GNU's "ustar  ".
  void add(const std::string& name, const std::string& data, char type = '0', bool posix = true,
           const std::string& prefix = "") {
    std::string header(512, '\0');
    // Fields are written over the zeros, so a shorter text leaves them NUL-terminated.
    const auto put = [&](size_t offset, const std::string& text) { header.replace(offset, text.size(), text); };
    put(0, name.substr(0, 100));
    put(100, "0000644");
    put(108, "0000000");
    put(116, "0000000");
    char size[12];
    std::snprintf(size, sizeof(size), "%011llo", static_cast<unsigned long long>(data.size()));
    put(124, size);
    put(136, "14712345670");
    header[156] = type;
    put(257, posix ? std::string("ustar\0" "00", 8) : std::string("ustar  \0", 8));
    put(345, prefix);
    put(148, "        ");  // the checksum counts its own field as spaces
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    char checksum[7];
    std::snprintf(checksum, sizeof(checksum), "%06o", sum);
    put(148, std::string(checksum, 7));  // six digits and a NUL, before the space already there
    bytes_ += header + data + std::string((512 - data.size() % 512) % 512, '\0');
  }

  // GNU tar's way: a "././@LongLink" record of type 'L' holding the name, then the member.
  void add_gnu_long_name(const std::string& name, const std::string& data) {
    add("././@LongLink", name + '\0', 'L', false);
    add(name.substr(0, 100), data, '0', false);
  }

  // The pax way: an 'x' header whose "path" record names the member.
  void add_pax_path(const std::string& name, const std::string& data) {
    const std::string record_body = " path=" + name + "\n";
    size_t length = record_body.size() + 1;
    while (std::to_string(length).size() + record_body.size() != length) ++length;
    add("PaxHeaders/member", std::to_string(length) + record_body + "12 mtime=42\n", 'x');
    add("truncated-name-ignored.png", data);
  }

  std::string finish() const { return bytes_ + std::string(1024, '\0'); }

 private:
  std::string bytes_;
};

torch::Tensor pixels(const io::RgbImage& image) {
  return torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {image.height, image.width, 3}, torch::kUInt8)
      .clone();
}

DataLoaderOptions small_options(int64_t global_batch_size) {
  DataLoaderOptions options;
  options.image_size = kImageSize;
  options.global_batch_size = global_batch_size;
  options.seed = 3;
  options.workers = 2;
  return options;
}

std::vector<Batch> take(DataLoader& loader, int count) {
  std::vector<Batch> batches;
  for (int i = 0; i < count; ++i) batches.push_back(loader.next());
  return batches;
}

void expect_same_batches(const std::vector<Batch>& actual, const std::vector<Batch>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].epoch, expected[i].epoch) << i;
    EXPECT_EQ(actual[i].step, expected[i].step) << i;
    EXPECT_EQ(actual[i].indices, expected[i].indices) << i;
    EXPECT_TRUE(torch::equal(actual[i].images, expected[i].images)) << i;
  }
}

TEST(TrainData, FolderListAndTarShardsGiveTheSameImages) {
  ScratchDir dir;
  std::vector<std::string> names;
  for (const std::string& name : kImageNames) names.push_back("images/" + name);
  write_images(dir, names);
  write_bytes(dir.file("images/c/notes.txt"), "not an image");

  const std::string list = dir.file("list.txt");
  std::string lines = "# the training images\n\n";
  for (size_t i = 0; i < names.size(); ++i) lines += (i == 4 ? dir.file(names[i]) : "  " + names[i]) + "\r\n";
  write_bytes(list, lines);

  // Two shards, with every way of naming a member, and entries that are not images.
  TarWriter first, second;
  first.add("images/a/", "", '5');
  first.add("a/0.png", read_bytes(dir.file(names[0])));
  first.add("1.png", read_bytes(dir.file(names[1])), '0', true, "images/a");
  first.add("notes.txt", "not an image");
  first.add_gnu_long_name(std::string(120, 'x') + "/2.png", read_bytes(dir.file(names[2])));
  first.add_pax_path(std::string(150, 'y') + "/3.PNG", read_bytes(dir.file(names[3])));
  first.add("4.png", read_bytes(dir.file(names[4])), '0', false);
  for (size_t i = 5; i < names.size(); ++i) second.add(names[i], read_bytes(dir.file(names[i])));
  write_bytes(dir.file("first.tar"), first.finish());
  write_bytes(dir.file("second.tar"), second.finish());

  const ImageDataset folder({dir.file("images")});
  const ImageDataset listed({list});
  const ImageDataset shards({dir.file("first.tar"), dir.file("second.tar")});
  ASSERT_EQ(folder.size(), names.size());
  ASSERT_EQ(listed.size(), names.size());
  ASSERT_EQ(shards.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(folder.name(i), dir.file(names[i]));
    EXPECT_EQ(listed.name(i), dir.file(names[i]));
    const torch::Tensor expected = pixels(folder.load(i));
    EXPECT_TRUE(torch::equal(pixels(listed.load(i)), expected)) << names[i];
    EXPECT_TRUE(torch::equal(pixels(shards.load(i)), expected)) << names[i];
  }
  EXPECT_EQ(shards.name(1), dir.file("first.tar") + ":images/a/1.png");
  EXPECT_EQ(shards.name(2), dir.file("first.tar") + ":" + std::string(120, 'x') + "/2.png");
  EXPECT_EQ(shards.name(3), dir.file("first.tar") + ":" + std::string(150, 'y') + "/3.PNG");
  EXPECT_EQ(shards.name(5), dir.file("second.tar") + ":" + names[5]);

  // The same samples through the loader.
  DataLoader from_folder(folder, small_options(4));
  DataLoader from_list(listed, small_options(4));
  DataLoader from_shards(shards, small_options(4));
  const std::vector<Batch> expected = take(from_folder, 3);
  expect_same_batches(take(from_list, 3), expected);
  expect_same_batches(take(from_shards, 3), expected);
}

TEST(TrainData, SourcesWithoutImagesAreErrors) {
  ScratchDir dir;
  const std::string empty = dir.file("empty");
  std::filesystem::create_directories(empty + "/sub");
  write_bytes(empty + "/sub/readme.txt", "text");
  EXPECT_TRUE(contains(error_of([&] { ImageDataset dataset({empty}); }, empty), "no images found"));

  const std::string list = dir.file("list.txt");
  write_bytes(list, "# nothing\n\n");
  EXPECT_TRUE(contains(error_of([&] { ImageDataset dataset({list}); }, list), "no images listed"));

  const std::string missing = dir.file("missing.txt");
  EXPECT_TRUE(contains(error_of([&] { ImageDataset dataset({missing}); }, missing), "cannot open"));

  TarWriter tar;
  tar.add("readme.txt", "text");
  const std::string no_images = dir.file("no_images.tar");
  write_bytes(no_images, tar.finish());
  EXPECT_TRUE(contains(error_of([&] { ImageDataset dataset({no_images}); }, no_images), "no images found"));

  const std::string not_tar = dir.file("not.tar");
  write_bytes(not_tar, std::string(1024, 'z'));
  EXPECT_TRUE(contains(error_of([&] { ImageDataset dataset({not_tar}); }, not_tar), "not a tar archive"));

  TarWriter truncated;
  truncated.add("a.png", std::string(2000, 'p'));
  const std::string cut = dir.file("cut.tar");
  write_bytes(cut, truncated.finish().substr(0, 1024));
  EXPECT_TRUE(contains(error_of([&] { ImageDataset dataset({cut}); }, cut), "truncated"));
}

// random_crop_arr + flip against Pillow. The expected pixels were made once with /usr/bin/python3
// (Pillow 9.4): augmentation.py's random_crop_arr on Image.open("tests/data/io/photo_161x97.png")
// .convert("RGB") with its random draws replaced by this test's, those of SampleRandom({7, 0, 0}):
// shorter side 37 (after a BOX halving to 80 x 48, BICUBIC to 62 x 37), top 3, left 20; then
// flipped (np.array(crop)[:, ::-1]).
TEST(TrainData, RandomCropMatchesPillow) {
  const std::string encoded = read_bytes(std::string(TOKENFLOW_TEST_DATA_DIR) + "/io/photo_161x97.png");
  const io::RgbImage photo =
      io::decode_image(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size(), "photo_161x97.png");
  SampleRandom random({7, 0, 0});
  const torch::Tensor crop = pixels(augment_for_training(photo, 32, random));
  ASSERT_EQ(crop.sizes(), torch::IntArrayRef({32, 32, 3}));
  const std::vector<std::pair<std::array<int, 2>, std::array<int, 3>>> expected = {
      {{0, 0}, {201, 22, 149}}, {{5, 17}, {133, 52, 112}}, {{31, 31}, {83, 223, 141}}, {{16, 3}, {193, 123, 172}}};
  for (const auto& [at, rgb] : expected) {
    for (int channel = 0; channel < 3; ++channel) {
      EXPECT_EQ(crop[at[0]][at[1]][channel].item<int>(), rgb[channel]) << at[0] << "," << at[1];
    }
  }
  // The crop is a window of the resized image, mirrored.
  const torch::Tensor resized = pixels(io::resize_shorter_side(photo, 37));
  EXPECT_TRUE(torch::equal(crop, resized.slice(0, 3, 35).slice(1, 20, 52).flip({1})));
}

TEST(TrainData, AugmentationDependsOnlyOnItsKeys) {
  ScratchDir dir;
  write_images(dir, {"image.png"});
  const io::RgbImage image = ImageDataset({dir.file("")}).load(0);
  const auto crop = [&](uint64_t epoch) {
    SampleRandom random({3, epoch, 0});
    return pixels(augment_for_training(image, kImageSize, random));
  };
  EXPECT_TRUE(torch::equal(crop(0), crop(0)));
  int differing = 0;
  for (uint64_t epoch = 1; epoch < 6; ++epoch) differing += !torch::equal(crop(epoch), crop(0));
  EXPECT_GE(differing, 4);

  // Any image gives a crop of the size asked for; smaller ones are enlarged first.
  for (const auto& [height, width] : std::vector<std::array<int, 2>>{{5, 3}, {16, 100}, {200, 17}}) {
    SampleRandom random({1, 2, 3});
    const io::RgbImage small{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, 9)};
    const io::RgbImage out = augment_for_training(small, kImageSize, random);
    EXPECT_EQ(out.width, kImageSize);
    EXPECT_EQ(out.height, kImageSize);
  }
}

TEST(TrainData, SamplerMatchesDistributedSampler) {
  // torch.utils.data.distributed.DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=True,
  // seed=5) after set_epoch(2), PyTorch 1.13 (Debian's python3-torch).
  EXPECT_EQ(distributed_sampler_indices(10, 5, 2, 0, 3, true), (std::vector<int64_t>{5, 4, 9, 2}));
  EXPECT_EQ(distributed_sampler_indices(10, 5, 2, 1, 3, true), (std::vector<int64_t>{0, 1, 6, 5}));
  EXPECT_EQ(distributed_sampler_indices(10, 5, 2, 2, 3, true), (std::vector<int64_t>{3, 7, 8, 0}));
  EXPECT_EQ(distributed_sampler_indices(5, 0, 0, 1, 2, false), (std::vector<int64_t>{1, 3, 0}));
  EXPECT_NE(distributed_sampler_indices(100, 5, 0, 0, 1, true), distributed_sampler_indices(100, 5, 1, 0, 1, true));
  EXPECT_TRUE(contains(error_of([] { distributed_sampler_indices(10, 0, 0, 2, 2, true); }), "rank 2"));
  EXPECT_TRUE(contains(error_of([] { distributed_sampler_indices(0, 0, 0, 0, 1, true); }), "no images"));
}

TEST(TrainData, TwoRanksPartitionAnEpoch) {
  for (const int64_t size : {10, 11}) {
    const std::vector<int64_t> rank0 = distributed_sampler_indices(size, 9, 4, 0, 2, true);
    const std::vector<int64_t> rank1 = distributed_sampler_indices(size, 9, 4, 1, 2, true);
    const std::vector<int64_t> order = distributed_sampler_indices(size, 9, 4, 0, 1, true);
    // Interleaved back, the two shares are the epoch's order padded with its first index.
    std::vector<int64_t> padded = order;
    if (size % 2) padded.push_back(order[0]);
    std::vector<int64_t> interleaved;
    for (size_t i = 0; i < rank0.size(); ++i) interleaved.insert(interleaved.end(), {rank0[i], rank1[i]});
    EXPECT_EQ(interleaved, padded) << size;
  }

  // Through the loader: each rank gets its share, half the global batch at a time.
  ScratchDir dir;
  write_images(dir, kImageNames);
  const ImageDataset dataset({dir.file("")});
  std::vector<int64_t> seen;
  for (int rank = 0; rank < 2; ++rank) {
    DataLoaderOptions options = small_options(4);
    options.rank = rank;
    options.world_size = 2;
    DataLoader loader(dataset, options);
    ASSERT_EQ(loader.steps_per_epoch(), 2);  // 5 images per rank, batches of 2, the last one dropped
    const std::vector<int64_t> share = distributed_sampler_indices(10, options.seed, 0, rank, 2, true);
    for (const Batch& batch : take(loader, 2)) {
      EXPECT_EQ(batch.images.size(0), 2);
      const auto first = share.begin() + batch.step * 2;
      EXPECT_EQ(batch.indices, std::vector<int64_t>(first, first + 2));
      seen.insert(seen.end(), batch.indices.begin(), batch.indices.end());
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
}

TEST(TrainData, BatchesAreInOrderShapedAndInRange) {
  ScratchDir dir;
  write_images(dir, kImageNames);
  const ImageDataset dataset({dir.file("")});
  DataLoader loader(dataset, small_options(3));
  ASSERT_EQ(loader.steps_per_epoch(), 3);
  for (int i = 0; i < 7; ++i) {
    const Batch batch = loader.next();
    EXPECT_EQ(batch.epoch, i / 3);
    EXPECT_EQ(batch.step, i % 3);
    EXPECT_EQ(batch.images.sizes(), torch::IntArrayRef({3, 3, kImageSize, kImageSize}));
    EXPECT_EQ(batch.images.scalar_type(), torch::kFloat32);
    EXPECT_GE(batch.images.min().item<float>(), -1.0f);
    EXPECT_LE(batch.images.max().item<float>(), 1.0f);
    const std::vector<int64_t> order = distributed_sampler_indices(10, 3, batch.epoch, 0, 1, true);
    EXPECT_EQ(batch.indices, std::vector<int64_t>(order.begin() + batch.step * 3, order.begin() + batch.step * 3 + 3));
  }
  EXPECT_GE(loader.wait_seconds(), 0.0);
  EXPECT_EQ(loader.skipped().count, 0);
}

TEST(TrainData, CenterCropIsTheInferencePreprocessing) {
  ScratchDir dir;
  write_images(dir, kImageNames);
  const ImageDataset dataset({dir.file("")});
  DataLoaderOptions options = small_options(5);
  options.crop = Crop::Center;
  options.shuffle = false;
  DataLoader loader(dataset, options);
  const Batch batch = loader.next();
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(torch::equal(batch.images[i], io::load_image(dataset.name(i), kImageSize)[0])) << i;
  }
}

TEST(TrainData, BatchesDoNotDependOnTheWorkerCount) {
  ScratchDir dir;
  write_images(dir, kImageNames);
  const ImageDataset dataset({dir.file("")});
  DataLoaderOptions one_worker = small_options(4);
  one_worker.workers = 1;
  DataLoaderOptions many_workers = small_options(4);
  many_workers.workers = 5;
  many_workers.prefetch_batches = 4;
  DataLoader one(dataset, one_worker);
  DataLoader many(dataset, many_workers);
  EXPECT_EQ(many.workers(), 5);
  DataLoaderOptions default_workers = small_options(4);
  default_workers.workers = 0;
  EXPECT_EQ(DataLoader(dataset, default_workers).workers(),
            std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1));
  const std::vector<Batch> expected = take(one, 6);
  expect_same_batches(take(many, 6), expected);

  // The crops of an image change from epoch to epoch.
  std::map<int64_t, torch::Tensor> first_epoch;
  int changed = 0, compared = 0;
  for (const Batch& batch : expected) {
    for (size_t i = 0; i < batch.indices.size(); ++i) {
      if (batch.epoch == 0) first_epoch[batch.indices[i]] = batch.images[i];
      if (batch.epoch > 0 && first_epoch.count(batch.indices[i])) {
        ++compared;
        changed += !torch::equal(batch.images[i], first_epoch[batch.indices[i]]);
      }
    }
  }
  EXPECT_GT(compared, 0);
  EXPECT_GT(changed, compared / 2);
}

TEST(TrainData, ResumingAtAStepGivesTheSameBatches) {
  ScratchDir dir;
  write_images(dir, kImageNames);
  const ImageDataset dataset({dir.file("")});
  DataLoader uninterrupted(dataset, small_options(3));
  const std::vector<Batch> expected = take(uninterrupted, 8);  // epochs 0 and 1 and 2 (3 steps each)
  for (const auto& [epoch, step] : std::vector<std::array<int64_t, 2>>{{0, 2}, {1, 0}, {1, 1}, {0, 4}}) {
    DataLoader resumed(dataset, small_options(3), epoch, step);
    const int64_t first = epoch * 3 + step;
    expect_same_batches(take(resumed, static_cast<int>(8 - first)),
                        std::vector<Batch>(expected.begin() + first, expected.end()));
  }
}

TEST(TrainData, UnreadableImagesAreReplacedAndCounted) {
  ScratchDir dir;
  write_images(dir, {"0.png", "1.png", "2.png", "3.png", "4.png", "5.png"});
  write_bytes(dir.file("corrupt.png"), "\x89PNG\r\n\x1a\n this is not the rest of a PNG");
  write_bytes(dir.file("empty.png"), "");
  const ImageDataset dataset({dir.file("")});
  ASSERT_EQ(dataset.size(), 8u);
  const auto unreadable = [&](int64_t index) {
    return contains(dataset.name(index), "corrupt") || contains(dataset.name(index), "empty");
  };

  std::vector<std::vector<Batch>> runs;
  for (const int workers : {1, 3}) {
    DataLoaderOptions options = small_options(4);
    options.workers = workers;
    DataLoader loader(dataset, options);
    runs.push_back(take(loader, 4));  // two epochs
    for (const Batch& batch : runs.back()) {
      EXPECT_EQ(batch.images.size(0), 4);
      EXPECT_TRUE(std::none_of(batch.indices.begin(), batch.indices.end(), unreadable));
    }
    const SkippedImages skipped = loader.skipped();
    EXPECT_GE(skipped.count, 4);  // each epoch meets both, and replacements may be unreadable too
    ASSERT_EQ(skipped.first_errors.size(), 2u);
    const std::string errors = skipped.first_errors[0] + skipped.first_errors[1];
    EXPECT_TRUE(contains(errors, dir.file("corrupt.png") + ": cannot read image")) << errors;
    EXPECT_TRUE(contains(errors, dir.file("empty.png") + ": cannot read image (empty file)")) << errors;
  }
  expect_same_batches(runs[1], runs[0]);
}

TEST(TrainData, OnlyUnreadableImagesStopTheRun) {
  ScratchDir dir;
  write_bytes(dir.file("a.png"), "broken");
  write_bytes(dir.file("b.jpg"), "broken");
  const ImageDataset dataset({dir.file("")});
  DataLoader loader(dataset, small_options(2));
  EXPECT_TRUE(contains(error_of([&] { loader.next(); }), "unreadable images in a row"));
}

TEST(TrainData, StopsCleanlyMidEpoch) {
  ScratchDir dir;
  write_images(dir, kImageNames);
  const ImageDataset dataset({dir.file("")});
  DataLoaderOptions options = small_options(2);
  options.workers = 4;
  { DataLoader untouched(dataset, options); }
  DataLoader loader(dataset, options);
  loader.next();
}

TEST(TrainData, OptionsThatMakeNoBatchAreErrors) {
  ScratchDir dir;
  write_images(dir, {"0.png", "1.png", "2.png"});
  const ImageDataset dataset({dir.file("")});
  DataLoaderOptions uneven = small_options(5);
  uneven.world_size = 2;
  EXPECT_TRUE(contains(error_of([&] { DataLoader loader(dataset, uneven); }), "multiple of the world size"));
  EXPECT_TRUE(contains(error_of([&] { DataLoader loader(dataset, small_options(4)); }), "less than a batch of 4"));
}

}  // namespace
}  // namespace tokenflow::train
