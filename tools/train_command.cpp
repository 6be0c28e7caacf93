#include "train_command.h"

#include <tokenflow/error.h>
#include <tokenflow/tokenflow.h>

#include "train/distributed.h"
#include "train/training_run.h"

#include <algorithm>
#include <fstream>

namespace tokenflow::cli {

struct TrainCommand::Options {
  train::TrainingRunOptions run;
  std::string config;
  std::vector<std::string> perceptual;
  int threads = 0;
  int processes = 0;
  bool no_progress = false;
};

TrainCommand::TrainCommand(CLI::App& app) : options_(new Options) {
  auto& o = *options_;
  auto& r = o.run;
  auto& n = r.new_tokenizer;
  auto& loss = r.settings.loss;
  auto& optimizer = r.settings.optimizer;
  command_ = app.add_subcommand("train", "train a TokenFlow tokenizer (the official vq_train.py recipe)");
  auto* c = command_;
  c->add_option("--config", o.config, "TOML file of these options (the command line wins)");
  c->add_option("--data", r.data, "image folders, list files (one path a line) or .tar shards")->required();
  c->add_option("-o,--output", r.output, "run folder: checkpoints/, log.jsonl, config.json")->required();
  c->add_option("--teacher", r.teacher, "semantic teacher: OpenAI CLIP (visual.*) or SigLIP (vision_model.*) weights")
      ->required();
  c->add_option("--teacher-heads", n.teacher_heads, "attention heads of the teacher (0: CLIP width/64, SigLIP 16)");
  c->add_option("--perceptual", o.perceptual,
                "LPIPS weights (the official LPIPS state dict, or torchvision VGG16 + LPIPS heads), or none")
      ->required();
  c->add_option("--init,--vq-ckpt", r.init, "start from this tokenizer checkpoint instead of a new one");
  c->add_option("--resume", r.resume, "continue this training checkpoint exactly");
  c->add_option("--steps", r.steps, "train until this step")->capture_default_str();
  c->add_option("--global-batch-size", r.global_batch_size, "images per step over all processes")->capture_default_str();
  c->add_option("--global-seed", r.settings.seed, "seed of the data order, crops and scale drops")->capture_default_str();
  c->add_option("--num-workers", r.workers, "image decoding threads (0: cores - 1)");
  c->add_option("--log-every", r.log_every, "log a line every N steps")->capture_default_str();
  c->add_option("--ckpt-every", r.checkpoint_every, "write a checkpoint every N steps")->capture_default_str();
  c->add_option("--image-size", n.image_size, "training resolution (0: the teacher's)");
  c->add_option("--codebook-size", n.codebook_size, "entries of the dual codebook")->capture_default_str();
  c->add_option("--codebook-embed-dim", n.pixel_code_dim, "pixel code dimension")->capture_default_str();
  c->add_option("--semantic-code-dim", n.semantic_code_dim, "semantic code dimension")->capture_default_str();
  c->add_option("--pixel-channels", n.pixel_channels, "VQGAN base channels (ch)")->capture_default_str();
  c->add_option("--z-channels", n.z_channels, "VQGAN latent channels")->capture_default_str();
  c->add_option("--res-blocks", n.res_blocks, "VQGAN res blocks per level")->capture_default_str();
  c->add_option("--ch-mult", n.channel_multipliers, "VQGAN channel multipliers, one per level (k levels: 2^(k-1) x down)")
      ->delimiter(',')->capture_default_str();
  c->add_flag("--enhanced-decoder,--enhanced_decoder", n.enhanced_decoder, "twice the decoder channels and res blocks");
  c->add_option("--semantic-decoder-layers", n.semantic_decoder_layers, "semantic decoder depth")->capture_default_str();
  c->add_option("--semantic-decoder-heads", n.semantic_decoder_heads, "semantic decoder heads")->capture_default_str();
  c->add_option("--semantic-distance-weight", n.semantic_distance_weight,
                "w in argmin(w d_sem + d_pix): 1 is TokenFlow, 0 a pixel-only baseline")->capture_default_str();
  c->add_option("--disc-dim", r.discriminator_channels, "PatchGAN base channels")->capture_default_str();
  c->add_option("--disc-layers", r.discriminator_layers, "PatchGAN layers")->capture_default_str();
  c->add_option("--commit-loss-beta", loss.commit_beta, "commitment weight")->capture_default_str();
  c->add_option("--entropy-loss-ratio", loss.entropy_ratio, "entropy loss weight")->capture_default_str();
  c->add_option("--reconstruction-loss", loss.reconstruction, "l1 or l2")->check(CLI::IsMember({"l1", "l2"}));
  c->add_option("--reconstruction-weight", loss.reconstruction_weight, "pixel loss weight")->capture_default_str();
  c->add_option("--perceptual-weight", loss.perceptual_weight, "LPIPS weight")->capture_default_str();
  c->add_option("--disc-weight", loss.disc_weight, "adversarial weight")->capture_default_str();
  c->add_option("--disc-start", loss.disc_start, "step from which the adversarial terms count")->capture_default_str();
  c->add_flag("--disc-adaptive-weight", loss.disc_adaptive_weight, "balance the adversarial gradient (VQGAN)");
  c->add_option("--disc-loss", loss.disc_loss, "hinge, vanilla or non-saturating")
      ->check(CLI::IsMember({"hinge", "vanilla", "non-saturating"}));
  c->add_option("--gen-loss", loss.gen_loss, "hinge or non-saturating")->check(CLI::IsMember({"hinge", "non-saturating"}));
  c->add_option("--scale-drop", loss.scale_drop_probability, "probability of dropping one scale in a step")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  c->add_option("--lr", optimizer.lr, "Adam learning rate")->capture_default_str();
  c->add_option("--beta1", optimizer.beta1, "Adam beta1")->capture_default_str();
  c->add_option("--beta2", optimizer.beta2, "Adam beta2")->capture_default_str();
  c->add_option("--max-grad-norm", optimizer.max_grad_norm, "gradient clipping (0: off)")->capture_default_str();
  c->add_flag("--ema", optimizer.ema, "keep an EMA of the weights (saved as `ema`)");
  c->add_option("--ema-decay", optimizer.ema_decay, "EMA decay")->capture_default_str();
  c->add_flag("--finetune-decoder,--finetune_decoder", optimizer.finetune_decoder, "train the pixel decoder only");
  c->add_option("--nproc", o.processes, "run N local data-parallel processes (c10d Gloo)")->check(CLI::PositiveNumber);
  c->add_option("-t,--threads", o.threads, "CPU threads per process (0: cores / processes)");
  c->add_flag("--no-progress", o.no_progress, "no live progress line (log lines only)");
  c->add_option("--device", r.device, "cpu, or cuda[:N] with a CUDA build of LibTorch (rank r uses cuda:LOCAL_RANK)");
}

TrainCommand::~TrainCommand() { delete options_; }

bool TrainCommand::parsed() const { return command_->parsed(); }

int TrainCommand::run(const std::vector<std::string>& arguments) {
  auto& o = *options_;
  const int cores = cpu_cores();
  if (o.processes > 0) {
    auto worker_arguments = arguments;
    if (o.threads == 0) {
      worker_arguments.push_back("--threads");
      worker_arguments.push_back(std::to_string(std::max(1, cores / o.processes)));
    }
    train::run_local_workers(worker_arguments, o.processes);
    return 0;
  }
  if (o.perceptual.size() == 1 && o.perceptual.front() == "none") o.perceptual.clear();
  o.run.perceptual = o.perceptual;
  o.run.progress = !o.no_progress;
  torch::Device device(o.run.device);
  if (device.is_cuda() && !device.has_index()) {
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(train::distributed_environment().local_rank));
    o.run.device = device.str();
  }
  auto group = train::DataParallelGroup::from_environment(device);
  set_num_threads(o.threads ? o.threads : std::max(1, cores / group.world_size()));
  train::run_training(o.run, group);
  return 0;
}

std::vector<std::string> merge_config_file(const std::vector<std::string>& arguments, const CLI::App& command) {
  std::string config;
  size_t position = 0;
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (arguments[i] == command.get_name()) position = i + 1;
    if (arguments[i] == "--config" && i + 1 < arguments.size()) config = arguments[i + 1];
    if (arguments[i].rfind("--config=", 0) == 0) config = arguments[i].substr(9);
  }
  if (config.empty() || position == 0) return arguments;
  std::ifstream in(config);
  if (!in) throw Error(config + ": cannot open the config file");
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(in);
  } catch (const CLI::ParseError& e) {
    throw Error(config + ": " + e.what());
  }
  auto given = [&](const std::string& flag) {
    return std::any_of(arguments.begin(), arguments.end(),
                       [&](const std::string& a) { return a == flag || a.rfind(flag + "=", 0) == 0; });
  };
  std::vector<std::string> inserted;
  for (const auto& item : items) {
    if (!item.parents.empty()) throw Error(config + ": sections are not used; write `" + item.name + " = ...` at the top");
    const std::string flag = "--" + item.name;
    const CLI::Option* option = command.get_option_no_throw(flag);
    if (!option || item.name == "config") throw Error(config + ": unknown option `" + item.name + "`");
    if (given(flag)) continue;
    if (option->get_expected_max() == 0) {
      if (item.inputs.size() == 1 && item.inputs[0] == "true") inserted.push_back(flag);
      continue;
    }
    inserted.push_back(flag);
    inserted.insert(inserted.end(), item.inputs.begin(), item.inputs.end());
  }
  std::vector<std::string> merged(arguments.begin(), arguments.begin() + static_cast<std::ptrdiff_t>(position));
  merged.insert(merged.end(), inserted.begin(), inserted.end());
  merged.insert(merged.end(), arguments.begin() + static_cast<std::ptrdiff_t>(position), arguments.end());
  return merged;
}

}  // namespace tokenflow::cli
