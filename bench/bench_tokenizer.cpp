// Speed of the TokenFlow tokenizer at the released sizes, with random weights (nothing to
// download). For each architecture it runs, each in a child process (so peak memory is per mode):
//   official: the official op sequence (NCHW float32, full distance matrices, one-hot), the baseline;
//   fp32:     tokenflow's exact mode;
//   bf16:     tokenflow's fast mode;
// and prints seconds per image, achieved GFLOP/s against the convolution peak measured here, peak
// RSS, speed-ups over the baseline from this same run, and the fast mode's fidelity to fp32.
#include <tokenflow/tokenflow.h>

#include "flops.h"
#include "io/npy.h"
#include "model/presets.h"
#include "official_baseline.h"

#include <CLI/CLI.hpp>

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
  std::vector<std::string> modes = {"official", "fp32", "bf16"};
  int threads = 2;
  int repeats = 3;
  std::string parity_dir = "../shared/parity";
  std::string markdown;
};

// Median wall seconds of `repeats` runs after one warm-up run.
double time_median(int repeats, const std::function<void()>& run) {
  run();
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

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

using Figures = std::map<std::string, double>;

Figures run_official(const model::Architecture& arch, const torch::Tensor& image, int repeats,
                     const std::string& outputs) {
  torch::manual_seed(0);
  model::TokenFlowNet net(arch);
  net.eval();
  torch::NoGradGuard no_grad;
  Figures f;
  EncodeResult encoded;
  f["encode"] = time_median(repeats, [&] { encoded = official_encode(net, image); });
  f["semantic_encoder"] = time_median(repeats, [&] { net.semantic_features(image); });
  f["pixel_encoder"] = time_median(repeats, [&] { net.quant_conv(net.encoder->forward(image)); });
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

// Runs `job` in a child process; returns its figures plus its peak RSS in MiB.
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

double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  // Images in [-1, 1]: peak-to-peak 2.
  const double mse = (a.clamp(-1, 1) - b.clamp(-1, 1)).pow(2).mean().item<double>();
  return 10.0 * std::log10(4.0 / mse);
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
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
        torch::set_num_threads(settings.threads);
        // The baseline keeps the C library's default allocator, as the official code runs.
        if (mode == "official") return run_official(arch, image, settings.repeats, outputs);
        reuse_freed_memory();
        return run_tokenflow(name, parse_precision(mode), image, settings.repeats, outputs, exact);
      });
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
       << "| mode | encode s | decode s | semantic enc s | pixel enc s | pixel dec s | encode GFLOP/s | decode GFLOP/s "
          "| decode % of conv peak | images/s (enc+dec) | speed-up enc / dec | peak RSS MiB |\n"
       << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    const auto& baseline = results.count("official") ? results.at("official") : Figures{};
    for (const auto& mode : settings.modes) {
      const auto& f = results.at(mode);
      const double conv_peak = mode == "bf16" ? peak.at("bf16") : peak.at("fp32");
      const auto get = [&](const char* key) { return f.count(key) ? fixed(f.at(key), 3) : std::string("-"); };
      md << "| " << mode << " | " << get("encode") << " | " << get("decode") << " | " << get("semantic_encoder") << " | "
         << get("pixel_encoder") << " | " << get("pixel_decoder") << " | " << fixed(encoder_gflop / f.at("encode"), 0)
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
    if (std::filesystem::exists(prefix + ".fp32.indices.npy") && std::filesystem::exists(prefix + ".bf16.indices.npy")) {
      auto exact = io::load_npy(prefix + ".fp32.indices.npy");
      auto fast = io::load_npy(prefix + ".bf16.indices.npy");
      const double same = 100.0 * exact.eq(fast).to(torch::kDouble).mean().item<double>();
      md << "\nbf16 against fp32 on a photograph: " << fixed(same, 2) << "% identical token indices; decoded image PSNR "
         << fixed(psnr(io::load_npy(prefix + ".bf16.recon.npy"), io::load_npy(prefix + ".fp32.recon.npy")), 1)
         << " dB end to end, " << fixed(psnr(io::load_npy(prefix + ".bf16.recon_of_exact.npy"), io::load_npy(prefix + ".fp32.recon.npy")), 1)
         << " dB decoding the same (fp32) tokens.\n";
    }
    if (std::filesystem::exists(prefix + ".official.indices.npy") && std::filesystem::exists(prefix + ".fp32.indices.npy")) {
      const bool same = torch::equal(io::load_npy(prefix + ".official.indices.npy"), io::load_npy(prefix + ".fp32.indices.npy"));
      md << "fp32 against the official op sequence: token indices " << (same ? "identical" : "DIFFER") << ".\n";
    }
    md << "\n";
  }
  std::filesystem::remove_all(scratch);
  std::printf("%s", md.str().c_str());
  if (!settings.markdown.empty()) std::ofstream(settings.markdown) << md.str();
}

}  // namespace
}  // namespace tokenflow::bench

int main(int argc, char** argv) {
  tokenflow::bench::Settings settings;
  CLI::App app("Benchmark the TokenFlow tokenizer at the released sizes with random weights");
  app.add_option("--arch", settings.architectures, "clipb256e and/or siglip384");
  app.add_option("--modes", settings.modes, "official, fp32 and/or bf16");
  app.add_option("-t,--threads", settings.threads, "intra-op threads");
  app.add_option("--repeats", settings.repeats, "timed runs per figure (median), after one warm-up");
  app.add_option("--parity-dir", settings.parity_dir, "where the photograph (fixture input.npy) is read from");
  app.add_option("--markdown", settings.markdown, "also write the tables to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    tokenflow::bench::report(settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenflow_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
