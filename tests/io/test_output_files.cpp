// A command's outputs (include/tokenflow/files.h): batch names from an explicit pattern or the
// default numbering, patterns refused before any work, and files written as one.
#include <tokenflow/files.h>

#include "io/io_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tokenflow::io {
namespace {

using test::contains;
using test::error_of;
using test::ScratchDir;

TEST(BatchOutputPath, APatternNumbersEveryImage) {
  EXPECT_EQ(batch_output_path("out_%03d.png", 0, 1), "out_000.png");
  EXPECT_EQ(batch_output_path("out_%03d.png", 12, 20), "out_012.png");
  EXPECT_EQ(batch_output_path("dir/%d.jpg", 7, 8), "dir/7.jpg");
  EXPECT_EQ(batch_output_path("100%%_%d.png", 1, 2), "100%_1.png");
}

TEST(BatchOutputPath, WithoutAPatternSeveralImagesGetASuffix) {
  EXPECT_EQ(batch_output_path("out.png", 0, 1), "out.png");
  EXPECT_EQ(batch_output_path("dir/out.png", 1, 3), "dir/out_1.png");
  EXPECT_EQ(batch_output_path("100%%.png", 0, 1), "100%.png");
}

TEST(BatchOutputPath, OtherConversionsAreRefused) {
  EXPECT_TRUE(contains(error_of([] { check_output_pattern("out_%s.png"); }), "may hold one %d"));
  EXPECT_TRUE(contains(error_of([] { check_output_pattern("out_%d_%d.png"); }), "more than one %d"));
  EXPECT_TRUE(contains(error_of([] { check_output_pattern("out_%99999d.png"); }), "may hold one %d"));
  EXPECT_TRUE(contains(error_of([] { check_output_pattern("out_%"); }), "may hold one %d"));
  check_output_pattern("out_%03d.png");
  check_output_pattern("plain.png");
}

TEST(RequireExtension, IgnoresCaseAndNamesTheChoices) {
  require_extension("a/B.PNG", {".png"}, "the output");
  EXPECT_EQ(error_of([] { require_extension("a.txt", {".png", ".jpg"}, "the output"); }),
            "a.txt: the output must end in .png or .jpg");
  EXPECT_EQ(lowercase_extension("x/y.NpY"), ".npy");
  EXPECT_EQ(lowercase_extension("noext"), "");
}

TEST(OutputFiles, AreRemovedUnlessKept) {
  ScratchDir dir;
  {
    OutputFiles outputs;
    outputs.write_text(dir.file("a.txt"), "a");
    outputs.write_images(dir.file("img_%02d.png"), torch::zeros({2, 3, 4, 4}));
    EXPECT_TRUE(std::filesystem::exists(dir.file("img_01.png")));
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.txt")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("img_00.png")));
  {
    OutputFiles outputs;
    outputs.write_images(dir.file("one.png"), torch::zeros({1, 3, 4, 4}));
    outputs.keep();
  }
  EXPECT_TRUE(std::filesystem::exists(dir.file("one.png")));
}

}  // namespace
}  // namespace tokenflow::io
