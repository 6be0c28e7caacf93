// Speed of the TokenFlow tokenizer at the released sizes, with random weights (nothing to
// download). For each architecture it runs, each in a child process (so peak memory is per mode):
//   official: the official op sequence (NCHW float32, at::linear and at::matmul, full distance matrices,
//             one-hot), the baseline;
//   fp32:     tokenflow's exact mode;
//   mixed:    fp32 encoding and bf16 decoding, the default where the CPU has bf16;
//   bf16:     tokenflow's fastest mode;
// and prints seconds per image, achieved GFLOP/s against the convolution peak measured here, peak
// RSS, speed-ups over the baseline from this same run, and the faster modes' fidelity to fp32. Then
// the same fidelity on photographs through a trained model (the shipped one), where it means more
// than with random weights.
#include <tokenflow/evaluate.h>
#include <tokenflow/tokenflow.h>

#include "flops.h"
#include "measure.h"
#include "io/image.h"
#include "model/tokenizer/load_options.h"
#include "model/tokenizer/presets.h"
#include "nn/linear.h"
#include "official_baseline.h"

#include <CLI/CLI.hpp>

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace tokenflow::bench {
namespace {

struct Settings {
  std::vector<std::string> architectures = {"clipb256e", "siglip384"};
  std::vector<std::string> modes = {"official", "fp32", "mixed", "bf16"};
  int threads = cpu_cores();
  int repeats = 3;
  std::string parity_dir = "../shared/parity";
  std::string markdown;
  std::string fidelity_model = default_model_path();
  std::string fidelity_list = "data/photos-val.txt";
  std::vector<int> tiles = {4, 8};
};

// A photograph at the architecture's input size: image 0 of the parity fixture of the same
// variant, or smooth noise when the fixtures are not beside the checkout.
torch::Tensor test_image(const Settings& settings, const std::string& arch, int size) {
  const std::string path = settings.parity_dir + "/" + arch + "/input.npy";
  if (std::filesystem::exists(path)) {
    auto images = io::load_npy(path);
    if (images.size(2) == size) return images.slice(0, 0, 1);
  }
  torch::manual_seed(1);
  return torch::upsample_bicubic2d(torch::rand({1, 3, 8, 8}) * 2 - 1, {size, size}, false).clamp(-1, 1);
}

Figures run_official(const model::Architecture& arch, const torch::Tensor& image, int repeats,
                     const std::string& outputs) {
  nn::OneDnnGemmScope route(false);  // nn.Linear and attention on at::linear and at::matmul, as the official code runs
  torch::manual_seed(0);
  model::TokenFlowNet net(arch);
  net.eval();
  torch::NoGradGuard no_grad;
  Figures f;
  EncodeResult encoded;
  f["encode"] = time_median(repeats, [&] { encoded = official_encode(net, image); });
  f["semantic_encoder"] = time_median(repeats, [&] { net.semantic_features(image); });
  f["pixel_encoder"] = time_median(repeats, [&] { net.quant_conv(net.encoder->forward(image)); });
  const auto features = official_features(net, image);
  f["code_search"] = time_median(repeats, [&] { official_quantize_multiscale(net, features); });
  torch::Tensor recon;
  f["decode"] = time_median(repeats, [&] { recon = official_decode(net, encoded.indices).second; });
  io::save_npy(outputs + ".indices.npy", encoded.indices);
  io::save_npy(outputs + ".recon.npy", recon);
  return f;
}

Figures run_tokenflow(const std::string& name, Precision precision, const torch::Tensor& image, int repeats,
                      const std::string& outputs, const std::string& exact_indices) {
  LoadOptions options;
  options.precision = precision;
  auto model = Model::random(name, 0, options);
  Figures f;
  EncodeResult encoded;
  f["encode"] = time_median(repeats, [&] { encoded = model.encode(image); });
  f["semantic_encoder"] = time_median(repeats, [&] { model.semantic_features(image); });
  f["pixel_encoder"] = time_median(repeats, [&] { model.pixel_features(image); });
  torch::Tensor recon;
  f["decode"] = time_median(repeats, [&] { recon = model.decode_indices(encoded.indices); });
  f["pixel_decoder"] = time_median(repeats, [&] { model.decode_features(encoded.features); });
  f["semantic_decoder"] = time_median(repeats, [&] { model.semantic_reconstruction(encoded.features); });
  io::save_npy(outputs + ".indices.npy", encoded.indices);
  io::save_npy(outputs + ".recon.npy", recon);
  if (!exact_indices.empty() && std::filesystem::exists(exact_indices)) {
    // The fast decoder on the exact tokens, to separate decoder fidelity from token flips.
    io::save_npy(outputs + ".recon_of_exact.npy", model.decode_indices(io::load_npy(exact_indices)));
  }
  return f;
}

// The multi-scale code search alone, on the image's features, as `precision` configures it. The
// public Model does not expose it, so this builds the network as Model::random does, in a child of
// its own (its copy of the weights stays out of the timed configuration's peak RSS).
Figures run_code_search(const std::string& name, Precision precision, const torch::Tensor& image, int repeats) {
  torch::manual_seed(0);
  model::TokenFlowNet net(model::released_architecture(name));
  net.eval();
  LoadOptions options;
  options.precision = precision;
  net.configure_inference(model::resolve(options));
  torch::NoGradGuard no_grad;
  const auto features = net.features(image);
  return {{"code_search", time_median(repeats, [&] { net.quantize_multiscale(features); })}};
}

// The process settings the CLI makes for our modes (not the official baseline): its threads, freed
// memory kept for reuse, OpenBLAS on one thread.
void configure_tokenflow_process(const Settings& settings) {
  torch::set_num_threads(settings.threads);
  reuse_freed_memory();
  single_threaded_blas();
}

// A field of /proc/self/status ("VmRSS", "VmHWM") in MiB.
double status_mib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  throw Error("no " + field + " in /proc/self/status");
}

// Decoding alone (mixed precision, the default), whole or in tiles: its time; run in a child of
// its own, its peak RSS; and its working memory, how far the first decoding raises the peak above
// the loaded model (the process's peak RSS also holds the model's construction). The heap's free
// pages are handed back first, or the decoding would reuse them unseen.
Figures run_decode_only(const std::string& name, int tile, int repeats, const std::string& indices_path,
                        const std::string& outputs) {
  LoadOptions options;
  options.precision = Precision::Mixed;
  options.tile = tile;
  auto model = Model::random(name, 0, options);
  const auto indices = io::load_npy(indices_path);
  torch::Tensor recon;
  Figures f;
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
  const double loaded = status_mib("VmRSS");
  model.decode_indices(indices);
  f["working_mib"] = status_mib("VmHWM") - loaded;
  f["decode"] = time_median(repeats, [&] { recon = model.decode_indices(indices); });
  io::save_npy(outputs + ".recon.npy", recon);
  return f;
}

// Throughput of a 3x3, 256-channel convolution at 64 x 64, channels-last: what oneDNN reaches here.
Figures run_conv_peak(int repeats) {
  Figures f;
  torch::NoGradGuard no_grad;
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto x = torch::randn({1, 256, 64, 64}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
    auto w = torch::randn({256, 256, 3, 3}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
    const double flops = 2.0 * 256 * 256 * 9 * 64 * 64;
    const double seconds = time_median(repeats * 3, [&] { torch::conv2d(x, w, {}, 1, 1); });
    f[dtype == torch::kFloat32 ? "fp32" : "bf16"] = flops / seconds / 1e9;
  }
  return f;
}

double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  // Images in [-1, 1]: peak-to-peak 2.
  const double mse = (a.clamp(-1, 1) - b.clamp(-1, 1)).pow(2).mean().item<double>();
  return 10.0 * std::log10(4.0 / mse);
}

// The images of the fidelity list, or the bundled photograph when the list is not there (it comes
// with scripts/get-data.sh).
std::vector<std::string> fidelity_images(const Settings& settings) {
  if (std::filesystem::exists(settings.fidelity_list)) return eval::read_image_list(settings.fidelity_list);
  return {(std::filesystem::path(default_model_path()).parent_path().parent_path() / "examples" / "wine.jpg").string()};
}

struct Fidelity {
  torch::Tensor indices, recon, recon_of_exact;  // its tokens, their decoding, its decoding of fp32's tokens
};

Fidelity encode_and_decode(const std::string& model_path, Precision precision, const torch::Tensor& images,
                           const torch::Tensor& exact_indices) {
  LoadOptions options;
  options.precision = precision;
  const auto model = Model::load(model_path, options);
  constexpr int64_t kBatch = 16;
  std::vector<torch::Tensor> indices, recon, recon_of_exact;
  for (int64_t start = 0; start < images.size(0); start += kBatch) {
    indices.push_back(model.encode(images.slice(0, start, start + kBatch)).indices);
    recon.push_back(model.decode_indices(indices.back()));
    if (exact_indices.defined()) recon_of_exact.push_back(model.decode_indices(exact_indices.slice(0, start, start + kBatch)));
  }
  return {torch::cat(indices), torch::cat(recon), recon_of_exact.empty() ? torch::Tensor() : torch::cat(recon_of_exact)};
}

// Per image PSNR of a against b: the minimum and the mean.
std::pair<double, double> psnr_range(const torch::Tensor& a, const torch::Tensor& b) {
  double low = 1e9, sum = 0;
  for (int64_t i = 0; i < a.size(0); ++i) {
    const double value = psnr(a[i], b[i]);
    low = std::min(low, value);
    sum += value;
  }
  return {low, sum / a.size(0)};
}

void report_fidelity(const Settings& settings, std::ostream& md) {
  if (!std::filesystem::exists(settings.fidelity_model)) {
    md << "Fidelity on photographs: skipped, no model at " << settings.fidelity_model << ".\n";
    return;
  }
  const auto paths = fidelity_images(settings);
  const auto config = Model::load(settings.fidelity_model).config();
  const auto batch = io::load_images(paths, config.image_size);
  if (!batch.images.defined()) throw Error("no readable image among the " + std::to_string(paths.size()) + " listed");
  const auto exact = encode_and_decode(settings.fidelity_model, Precision::Fp32, batch.images, {});
  md << "### Fidelity on photographs through a trained model\n\n"
     << batch.images.size(0) << " photographs (" << (std::filesystem::exists(settings.fidelity_list) ? settings.fidelity_list : paths[0])
     << "), model " << std::filesystem::path(settings.fidelity_model).filename().string() << " (" << config.image_size
     << "x" << config.image_size << ", " << config.tokens_per_image << " tokens). Against fp32:\n\n"
     << "| mode | identical tokens | identical per scale (coarse to fine) | PSNR decoding fp32's tokens, min / mean | "
        "PSNR to the photograph, mean (fp32: "
     << fixed(psnr_range(exact.recon, batch.images).second, 2) << " dB) |\n|---|---|---|---|---|\n";
  for (auto precision : {Precision::Mixed, Precision::Bf16}) {
    const auto fast = encode_and_decode(settings.fidelity_model, precision, batch.images, exact.indices);
    const auto same = fast.indices.eq(exact.indices).to(torch::kDouble);
    md << "| " << precision_name(precision) << " | " << fixed(100.0 * same.mean().item<double>(), 2) << "% | ";
    int64_t position = 0;
    for (int scale : config.scales) {
      md << (position ? " " : "") << fixed(100.0 * same.slice(1, position, position + scale * scale).mean().item<double>(), 1);
      position += scale * scale;
    }
    const auto [low, mean] = psnr_range(fast.recon_of_exact, exact.recon);
    md << " | " << fixed(low, 1) << " / " << fixed(mean, 1) << " dB | " << fixed(psnr_range(fast.recon, batch.images).second, 2)
       << " dB |\n";
  }
  md << "\n";
}

void report(const Settings& settings) {
  std::ostringstream md;
  const auto peak = in_child([&] {
    torch::set_num_threads(settings.threads);
    reuse_freed_memory();
    return run_conv_peak(settings.repeats);
  });
  md << "Threads: " << settings.threads << ". Convolution peak measured here (3x3, 256 channels, 64x64, channels-last): "
     << fixed(peak.at("fp32"), 0) << " GFLOP/s fp32, " << fixed(peak.at("bf16"), 0) << " GFLOP/s bf16.\n\n";
  const auto scratch = std::filesystem::temp_directory_path() / ("tokenflow_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(scratch);

  for (const auto& name : settings.architectures) {
    const auto arch = model::released_architecture(name);
    const auto flops = count_flops(arch);
    const auto image = test_image(settings, name, arch.config.image_size);
    std::map<std::string, Figures> results;
    for (const auto& mode : settings.modes) {
      const std::string outputs = (scratch / (name + "." + mode)).string();
      const std::string exact = (scratch / (name + ".fp32.indices.npy")).string();
      results[mode] = in_child([&] {
        // The baseline keeps the C library's default allocator, as the official code runs.
        if (mode == "official") {
          torch::set_num_threads(settings.threads);
          return run_official(arch, image, settings.repeats, outputs);
        }
        configure_tokenflow_process(settings);
        return run_tokenflow(name, parse_precision(mode), image, settings.repeats, outputs, exact);
      });
      if (mode != "official") {
        results[mode]["code_search"] = in_child([&] {
          configure_tokenflow_process(settings);
          return run_code_search(name, parse_precision(mode), image, settings.repeats);
        }).at("code_search");
      }
      std::fprintf(stderr, "%s %s: encode %.3f s, decode %.3f s\n", name.c_str(), mode.c_str(),
                   results[mode].at("encode"), results[mode].at("decode"));
    }
    const double encoder_gflop = (flops.semantic_encoder + flops.pixel_encoder + flops.quantizer) / 1e9;
    const double decoder_gflop = (flops.pixel_decoder + flops.semantic_decoder) / 1e9;
    md << "### " << name << " (batch 1, " << arch.config.image_size << "x" << arch.config.image_size << ", "
       << arch.config.tokens_per_image << " tokens)\n\n"
       << "Work per image: encode " << fixed(encoder_gflop, 0) << " GFLOP (semantic encoder "
       << fixed(flops.semantic_encoder / 1e9, 0) << ", pixel encoder " << fixed(flops.pixel_encoder / 1e9, 0)
       << ", code search " << fixed(flops.quantizer / 1e9, 1) << "); decode " << fixed(decoder_gflop, 0)
       << " GFLOP (pixel decoder " << fixed(flops.pixel_decoder / 1e9, 0) << ", semantic decoder "
       << fixed(flops.semantic_decoder / 1e9, 0) << ").\n\n"
       << "| mode | encode s | decode s | semantic enc s | pixel enc s | code search s | pixel dec s | semantic dec s "
          "| encode GFLOP/s | decode GFLOP/s | decode % of conv peak | images/s (enc+dec) | speed-up enc / dec "
          "| peak RSS MiB |\n"
       << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    const auto& baseline = results.count("official") ? results.at("official") : Figures{};
    for (const auto& mode : settings.modes) {
      const auto& f = results.at(mode);
      // The decoders compute in bfloat16 in mixed and bf16.
      const double conv_peak = mode == "mixed" || mode == "bf16" ? peak.at("bf16") : peak.at("fp32");
      const auto get = [&](const char* key) { return f.count(key) ? fixed(f.at(key), 3) : std::string("-"); };
      md << "| " << mode << " | " << get("encode") << " | " << get("decode") << " | " << get("semantic_encoder") << " | "
         << get("pixel_encoder") << " | " << get("code_search") << " | " << get("pixel_decoder") << " | "
         << get("semantic_decoder") << " | " << fixed(encoder_gflop / f.at("encode"), 0)
         << " | " << fixed(decoder_gflop / f.at("decode"), 0) << " | "
         << fixed(100.0 * decoder_gflop / f.at("decode") / conv_peak, 0) << "% | "
         << fixed(1.0 / (f.at("encode") + f.at("decode")), 3) << " | ";
      if (baseline.empty()) {
        md << "- | ";
      } else {
        md << fixed(baseline.at("encode") / f.at("encode"), 1) << "x / " << fixed(baseline.at("decode") / f.at("decode"), 1)
           << "x | ";
      }
      md << fixed(f.at("peak_rss_mib"), 0) << " |\n";
    }
    const auto prefix = (scratch / name).string();
    const std::string exact_indices = prefix + ".fp32.indices.npy";
    std::vector<int> tiles = {0};
    std::copy_if(settings.tiles.begin(), settings.tiles.end(), std::back_inserter(tiles), [](int t) { return t > 0; });
    if (tiles.size() > 1 && std::filesystem::exists(exact_indices)) {
      md << "\nDecoding alone in mixed precision, whole and with `--tile N` (N x N positions per tile):\n\n"
         << "| decoding | s | peak RSS MiB | working memory MiB | PSNR against whole |\n|---|---|---|---|---|\n";
      torch::Tensor whole;
      for (int tile : tiles) {
        const std::string outputs = (scratch / (name + ".tile" + std::to_string(tile))).string();
        const auto f = in_child([&] {
          configure_tokenflow_process(settings);
          return run_decode_only(name, tile, settings.repeats, exact_indices, outputs);
        });
        const auto recon = io::load_npy(outputs + ".recon.npy");
        if (tile == 0) whole = recon;
        md << "| " << (tile == 0 ? std::string("whole") : "--tile " + std::to_string(tile)) << " | "
           << fixed(f.at("decode"), 3) << " | " << fixed(f.at("peak_rss_mib"), 0) << " | " << fixed(f.at("working_mib"), 0)
           << " | " << (tile == 0 ? std::string("-") : fixed(psnr(recon, whole), 1) + " dB") << " |\n";
      }
    }
    md << "\n";
    for (const char* fast : {"mixed", "bf16"}) {
      const std::string mode = prefix + "." + fast;
      if (!std::filesystem::exists(exact_indices) || !std::filesystem::exists(mode + ".indices.npy")) continue;
      const auto exact_recon = io::load_npy(prefix + ".fp32.recon.npy");
      const auto same = io::load_npy(exact_indices).eq(io::load_npy(mode + ".indices.npy")).to(torch::kDouble);
      md << fast << " against fp32 on a photograph: " << fixed(100.0 * same.mean().item<double>(), 2)
         << "% identical token indices; decoded image PSNR " << fixed(psnr(io::load_npy(mode + ".recon.npy"), exact_recon), 1)
         << " dB end to end, " << fixed(psnr(io::load_npy(mode + ".recon_of_exact.npy"), exact_recon), 1)
         << " dB decoding the same (fp32) tokens.\n";
    }
    if (std::filesystem::exists(prefix + ".official.indices.npy") && std::filesystem::exists(exact_indices)) {
      const bool same = torch::equal(io::load_npy(prefix + ".official.indices.npy"), io::load_npy(exact_indices));
      md << "fp32 against the official op sequence: token indices " << (same ? "identical" : "DIFFER") << ".\n";
    }
    md << "\n";
  }
  std::filesystem::remove_all(scratch);
  torch::set_num_threads(settings.threads);
  report_fidelity(settings, md);
  std::printf("%s", md.str().c_str());
  if (!settings.markdown.empty()) std::ofstream(settings.markdown) << md.str();
}

}  // namespace
}  // namespace tokenflow::bench

int main(int argc, char** argv) {
  tokenflow::bench::Settings settings;
  CLI::App app("Benchmark the TokenFlow tokenizer at the released sizes with random weights");
  app.add_option("--arch", settings.architectures, "clipb256e and/or siglip384");
  app.add_option("--modes", settings.modes, "official, fp32, mixed and/or bf16");
  app.add_option("-t,--threads", settings.threads, "intra-op threads (default: one per core)")->capture_default_str();
  app.add_option("--repeats", settings.repeats, "timed runs per figure (median), after one warm-up");
  app.add_option("--parity-dir", settings.parity_dir, "where the photograph (fixture input.npy) is read from");
  app.add_option("--markdown", settings.markdown, "also write the tables to this file");
  app.add_option("--tile", settings.tiles, "also decode in tiles of these many positions (0: not)")->capture_default_str();
  app.add_option("--fidelity-model", settings.fidelity_model, "trained model for the fidelity on photographs")
      ->capture_default_str();
  app.add_option("--fidelity-list", settings.fidelity_list,
                 "photographs for it (list file; the bundled examples/wine.jpg when missing)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    tokenflow::bench::report(settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenflow_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
