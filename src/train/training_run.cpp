#include "train/training_run.h"

#include <tokenflow/error.h>

#include "io/checkpoint.h"
#include "io/files.h"
#include "model/tokenizer/architecture.h"
#include "nn/weights.h"
#include "train/data_loader.h"
#include "train/progress.h"
#include "train/training_checkpoint.h"

#include <tokenflow/runtime.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

namespace tokenflow::train {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Tokenizer {
  model::Architecture architecture;
  std::shared_ptr<model::TokenFlowNet> net;
};

// vq_train.py starts from checkpoint["model"] (the EMA, if any, is a separate copy); files without
// one are read as the inference loaders read them.
io::StateDict training_weights(const std::string& path) {
  try {
    return io::load_state_dict(path, "model");
  } catch (const Error&) {
    return io::load_state_dict(path);
  }
}

Tokenizer make_tokenizer(const TrainingRunOptions& options, const io::StateDict& teacher) {
  if (options.init.empty()) {
    auto created = new_tokenizer(teacher, options.teacher, options.new_tokenizer);
    return {created.architecture, created.net};
  }
  LoadOptions load;
  load.image_size = options.new_tokenizer.image_size;
  const auto state = training_weights(options.init);
  Tokenizer tokenizer{model::detect_architecture(state, load, options.init), nullptr};
  // The official decoder-only stage may swap in the enhanced decoder: the checkpoint's decoder is
  // then dropped and the new one starts from its initialisation.
  const bool swap_decoder = options.new_tokenizer.enhanced_decoder && !tokenizer.architecture.enhanced_decoder;
  if (swap_decoder) use_enhanced_decoder(tokenizer.architecture);
  tokenizer.net = std::make_shared<model::TokenFlowNet>(tokenizer.architecture);
  for (auto& child : tokenizer.net->named_children()) {
    if (swap_decoder && child.key() == "decoder") continue;
    nn::load_weights(*child.value(), state, options.init, child.key() + ".");
  }
  return tokenizer;
}

std::string teacher_name(const ModelConfig& config) { return config.teacher == tokenflow::Teacher::Clip ? "clipb_224" : "siglip_384"; }

// The official vq_train.py arguments (argparse names) that describe this run, stored as `args`.
io::pickle::SaveValue official_args(const TrainingRunOptions& o, const ModelConfig& c) {
  const auto& s = o.settings;
  auto args = io::pickle::SaveValue::argparse_namespace();
  args.set("data_path", o.data.empty() ? std::string() : o.data.front())
      .set("vq_model", "TokenFlow")
      .set("teacher", teacher_name(c))
      .set("vq_ckpt", o.init.empty() ? io::pickle::SaveValue(nullptr) : io::pickle::SaveValue(o.init))
      .set("ema", s.optimizer.ema)
      .set("codebook_size", c.codebook_size)
      .set("codebook_embed_dim", c.pixel_code_dim)
      .set("semantic_code_dim", c.semantic_code_dim)
      // tokenflow's: the heads no tensor shows, read back by io::load_state_dict.
      .set("semantic_heads", c.semantic_heads)
      .set("semantic_decoder_heads", c.semantic_decoder_heads)
      .set("codebook_l2_norm", true)
      .set("entropy_loss_ratio", s.loss.entropy_ratio)
      .set("commit_loss_beta", s.loss.commit_beta)
      .set("reconstruction_weight", s.loss.reconstruction_weight)
      .set("reconstruction_loss", s.loss.reconstruction)
      .set("perceptual_weight", o.perceptual.empty() ? 0.0 : s.loss.perceptual_weight)
      .set("disc_weight", s.loss.disc_weight)
      .set("disc_start", s.loss.disc_start)
      .set("disc_type", "patchgan")
      .set("disc_loss", s.loss.disc_loss)
      .set("gen_loss", s.loss.gen_loss)
      .set("image_size", c.image_size)
      .set("lr", s.optimizer.lr)
      .set("beta1", s.optimizer.beta1)
      .set("beta2", s.optimizer.beta2)
      .set("max_grad_norm", s.optimizer.max_grad_norm)
      .set("global_batch_size", o.global_batch_size)
      .set("global_seed", static_cast<int64_t>(s.seed))
      .set("log_every", o.log_every)
      .set("ckpt_every", o.checkpoint_every)
      .set("mixed_precision", "none")
      .set("enhanced_decoder", c.decoder_ch != c.encoder_ch || c.decoder_res_blocks != c.encoder_res_blocks)
      .set("finetune_decoder", s.optimizer.finetune_decoder)
      .set("scales", [&] {
        auto list = io::pickle::SaveValue::list();
        for (int scale : c.scales) list.append(scale);
        return list;
      }());
  return args;
}

StepRecord record_of(const StepResult& r, int64_t step, double seconds, DataParallelGroup& group) {
  const auto& g = r.generator;
  auto mean = group.all_reduce({g.total.item<double>(), g.reconstruction, g.perceptual, g.vq, g.commit, g.entropy,
                                g.semantic, g.adversarial, r.discriminator.loss, g.codebook_usage},
                               DataParallelGroup::Reduction::mean);
  StepRecord record;
  record.step = step;
  record.total = mean[0];
  record.reconstruction = mean[1];
  record.perceptual = mean[2];
  record.vq = mean[3];
  record.commit = mean[4];
  record.entropy = mean[5];
  record.semantic = mean[6];
  record.adversarial = mean[7];
  record.discriminator = mean[8];
  record.codebook_usage = mean[9];
  record.grad_norm = r.generator_grad_norm;  // the same on every rank: gradients are averaged first
  record.seconds = seconds;
  return record;
}

nlohmann::ordered_json json_of(const StepRecord& r, int64_t images_per_step, double wait_seconds) {
  return {{"step", r.step},          {"loss", r.total},          {"rec_loss", r.reconstruction},
          {"p_loss", r.perceptual},  {"vq_loss", r.vq},          {"commit_loss", r.commit},
          {"entropy_loss", r.entropy}, {"vqkd_loss", r.semantic}, {"generator_adv_loss", r.adversarial},
          {"discriminator_adv_loss", r.discriminator}, {"codebook_usage", r.codebook_usage},
          {"grad_norm", r.grad_norm}, {"seconds", r.seconds},
          {"images_per_second", images_per_step / std::max(r.seconds, 1e-9)},
          {"data_wait_seconds", wait_seconds}};
}

// One line: step, loss terms, codebook usage, speed and time left.
std::string progress_line(const StepRecord& r, int64_t last_step, double steps_per_second, int64_t images_per_step) {
  std::ostringstream line;
  line << std::fixed << "step " << r.step << "/" << last_step << std::setprecision(4) << "  loss " << r.total
       << " (rec " << r.reconstruction << " p " << r.perceptual << " vq " << r.vq << " commit " << r.commit << " sem "
       << r.semantic << " adv " << r.adversarial << " disc " << r.discriminator << ")" << std::setprecision(1)
       << "  usage " << 100 * r.codebook_usage << "%" << std::setprecision(2) << "  " << steps_per_second << " it/s "
       << steps_per_second * images_per_step << " img/s  ETA "
       << format_duration((last_step - r.step) / std::max(steps_per_second, 1e-9));
  return line.str();
}

}  // namespace

std::vector<StepRecord> run_training(const TrainingRunOptions& options, DataParallelGroup& group) {
  if (options.teacher.empty()) throw Error("training needs a semantic teacher (--teacher)");
  if (options.output.empty()) throw Error("training needs a run folder (--output)");
  if (options.global_batch_size % group.world_size() != 0) {
    throw Error("the global batch of " + std::to_string(options.global_batch_size) + " does not split over " +
                std::to_string(group.world_size()) + " processes");
  }
  const bool writer = group.rank() == 0;
  const torch::Device device(options.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw Error("--device " + options.device + ": this LibTorch has no CUDA, or no GPU is visible");
  }

  // New weights are drawn from the seed (rank 0's are then broadcast), so a run is reproducible.
  torch::manual_seed(options.settings.seed);
  const auto teacher_state = io::load_state_dict(options.teacher);
  auto tokenizer = make_tokenizer(options, teacher_state);
  GeneratorLossModules modules;
  modules.teacher = model::load_teacher(teacher_state, options.teacher, options.new_tokenizer.teacher_heads);
  if (!options.perceptual.empty()) modules.lpips = load_lpips(options.perceptual);
  modules.discriminator = std::make_shared<PatchDiscriminator>(3, options.discriminator_channels,
                                                               options.discriminator_layers);
  tokenizer.net->to(device);
  tokenizer.net->device = device;
  modules.teacher->to(device);
  modules.teacher->scaling->to(device);
  if (modules.lpips) modules.lpips->to(device);
  modules.discriminator->to(device);
  Trainer trainer(tokenizer.architecture, tokenizer.net, modules, options.settings);
  if (!options.resume.empty()) resume_training_checkpoint(options.resume, trainer);
  // Every rank starts from rank 0's weights (random initialisations differ between processes).
  std::vector<torch::Tensor> shared;
  for (auto& t : trainer.net().parameters()) shared.push_back(t);
  for (auto& t : trainer.net().buffers()) shared.push_back(t);
  for (auto& t : trainer.discriminator().parameters()) shared.push_back(t);
  for (auto& t : trainer.discriminator().buffers()) shared.push_back(t);
  if (trainer.ema()) {
    for (auto& t : trainer.ema()->parameters()) shared.push_back(t);
  }
  {
    torch::NoGradGuard no_grad;
    group.broadcast_from_rank0(shared);
  }
  trainer.synchronize_gradients = [&group](const std::vector<torch::Tensor>& parameters) {
    group.average_gradients(parameters);
  };

  const ImageDataset dataset(options.data);
  DataLoaderOptions loader_options;
  loader_options.image_size = tokenizer.architecture.config.image_size;
  loader_options.global_batch_size = options.global_batch_size;
  loader_options.rank = group.rank();
  loader_options.world_size = group.world_size();
  loader_options.seed = options.settings.seed;
  loader_options.workers = options.workers;
  // Steps past the first epoch count on into the next ones: the loader starts where the checkpoint left off.
  DataLoader loader(dataset, loader_options, 0, trainer.steps());
  const int64_t steps_per_epoch = loader.steps_per_epoch();

  if (writer) {
    fs::create_directories(fs::path(options.output) / "checkpoints");
    nlohmann::ordered_json config = {{"tokenflow_train", true},
                                     {"images", dataset.size()},
                                     {"steps_per_epoch", steps_per_epoch},
                                     {"processes", group.world_size()},
                                     {"image_size", tokenizer.architecture.config.image_size},
                                     {"scales", tokenizer.architecture.config.scales},
                                     {"codebook_size", tokenizer.architecture.config.codebook_size}};
    io::write_text_file((fs::path(options.output) / "config.json").string(), config.dump(2) + "\n");
  }
  std::ofstream log;
  if (writer) log.open((fs::path(options.output) / "log.jsonl").string(), std::ios::app);
  const bool live = writer && options.progress && isatty(STDERR_FILENO);
  const auto args = official_args(options, tokenizer.architecture.config);

  std::vector<StepRecord> records;
  const auto start = Clock::now();
  const int64_t first_step = trainer.steps();
  int64_t reported_skips = 0;
  while (trainer.steps() < options.steps) {
    const auto step_start = Clock::now();
    const auto batch = loader.next();
    const auto result = trainer.step(batch.images.to(device));
    const double seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
    const auto record = record_of(result, trainer.steps(), seconds, group);
    records.push_back(record);
    if (!writer) {
      if (trainer.steps() % options.checkpoint_every == 0 || trainer.steps() == options.steps) group.barrier();
      continue;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate = (trainer.steps() - first_step) / std::max(elapsed, 1e-9);
    const std::string line = progress_line(record, options.steps, rate, options.global_batch_size);
    const bool logged = trainer.steps() % options.log_every == 0 || trainer.steps() == options.steps;
    if (live) std::fprintf(stderr, "\r\033[K%s", line.c_str());
    if (logged) {
      if (!live) std::fprintf(stderr, "%s\n", line.c_str());
      log << json_of(record, options.global_batch_size, loader.wait_seconds()).dump() << "\n" << std::flush;
    }
    const auto skipped = loader.skipped();
    if (skipped.count > reported_skips) {
      std::fprintf(stderr, "%s%ld unreadable images skipped so far (first: %s)\n", live ? "\n" : "",
                   static_cast<long>(skipped.count), skipped.first_errors.empty() ? "?" : skipped.first_errors.front().c_str());
      reported_skips = skipped.count;
    }
    if (trainer.steps() % options.checkpoint_every == 0 || trainer.steps() == options.steps) {
      const auto path = checkpoint_path(options.output, trainer.steps());
      save_training_checkpoint(path, trainer, args);
      if (live) std::fprintf(stderr, "\n");
      std::fprintf(stderr, "saved %s\n", path.c_str());
      group.barrier();
    }
  }
  if (live) std::fprintf(stderr, "\n");
  return records;
}

std::vector<StepRecord> train_tokenizer(TrainingRunOptions options, int threads) {
  torch::Device device(options.device);
  if (device.is_cuda() && !device.has_index()) {
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(distributed_environment().local_rank));
    options.device = device.str();
  }
  auto group = DataParallelGroup::from_environment(device);
  set_num_threads(threads ? threads : std::max(1, cpu_cores() / group.world_size()));
  return run_training(options, group);
}

}  // namespace tokenflow::train
