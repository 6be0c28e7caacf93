// train: a TokenFlow tokenizer with the official vq_train.py recipe (options named as its flags), on
// this process or on --nproc local data-parallel processes.
#include "commands.h"
#include "launcher.h"

#include <tokenflow/runtime.h>
#include <tokenflow/train.h>

#include <algorithm>
#include <memory>

namespace tokenflow::cli {

namespace {

struct TrainOptions {
  train::TrainingRunOptions run;
  std::string config;  // read by merge_config_file before parsing
  std::vector<std::string> perceptual;
  int threads = 0;
  int processes = 0;
  bool no_progress = false;
};

int run_train(TrainOptions& o, const std::vector<std::string>& arguments) {
  if (o.processes > 0) {
    auto worker_arguments = arguments;
    if (o.threads == 0) {
      worker_arguments.push_back("--threads");
      worker_arguments.push_back(std::to_string(std::max(1, cpu_cores() / o.processes)));
    }
    run_local_workers(worker_arguments, o.processes);
    return 0;
  }
  o.run.perceptual = o.perceptual.size() == 1 && o.perceptual.front() == "none" ? std::vector<std::string>{} : o.perceptual;
  o.run.progress = !o.no_progress;
  train::train_tokenizer(o.run, o.threads);
  return 0;
}

void add_data_options(CLI::App* c, TrainOptions& o) {
  auto& r = o.run;
  const char* group = "Data and run";
  c->add_option("--config", o.config, "TOML file of these options (the command line wins)")->group(group);
  c->add_option("--data", r.data, "image folders, list files (one path a line) or .tar shards")->required()->group(group);
  add_output_option(c, r.output, "run folder: checkpoints/, log.jsonl, config.json")->required();
  c->add_option("--init,--vq-ckpt", r.init, "start from this tokenizer checkpoint instead of a new one")->group(group);
  c->add_option("--resume", r.resume, "continue this training checkpoint exactly")->group(group);
  add_training_loop_options(c, r.steps, r.workers, r.log_every, group);
  c->add_option("--global-batch-size", r.global_batch_size, "images per step over all processes")
      ->capture_default_str()
      ->group(group);
  c->add_option("--global-seed", r.settings.seed, "seed of the data order, crops and scale drops")
      ->capture_default_str()
      ->group(group);
  c->add_option("--ckpt-every", r.checkpoint_every, "write a checkpoint every N steps")
      ->capture_default_str()
      ->group(kOutputGroup);
  add_no_progress_flag(c, o.no_progress);
}

void add_network_options(CLI::App* c, TrainOptions& o) {
  auto& r = o.run;
  auto& n = r.new_tokenizer;
  const char* group = "Networks";
  c->add_option("--teacher", r.teacher, "semantic teacher: OpenAI CLIP (visual.*) or SigLIP (vision_model.*) weights")
      ->required()
      ->group(group);
  c->add_option("--teacher-heads", n.teacher_heads, "attention heads of the teacher (0: CLIP width/64, SigLIP 16)")
      ->group(group);
  c->add_option("--perceptual", o.perceptual,
                "LPIPS weights (the official LPIPS state dict, or torchvision VGG16 + LPIPS heads), or none")
      ->required()
      ->group(group);
  c->add_option("--image-size", n.image_size, "training resolution (0: the teacher's)")->group(group);
  c->add_option("--codebook-size", n.codebook_size, "entries of the dual codebook")->capture_default_str()->group(group);
  c->add_option("--codebook-embed-dim", n.pixel_code_dim, "pixel code dimension")->capture_default_str()->group(group);
  c->add_option("--semantic-code-dim", n.semantic_code_dim, "semantic code dimension")->capture_default_str()->group(group);
  c->add_option("--pixel-channels", n.pixel_channels, "VQGAN base channels (ch)")->capture_default_str()->group(group);
  c->add_option("--z-channels", n.z_channels, "VQGAN latent channels")->capture_default_str()->group(group);
  c->add_option("--res-blocks", n.res_blocks, "VQGAN res blocks per level")->capture_default_str()->group(group);
  c->add_option("--ch-mult", n.channel_multipliers, "VQGAN channel multipliers, one per level (k levels: 2^(k-1) x down)")
      ->delimiter(',')
      ->capture_default_str()
      ->group(group);
  c->add_flag("--enhanced-decoder,--enhanced_decoder", n.enhanced_decoder, "twice the decoder channels and res blocks")
      ->group(group);
  c->add_option("--semantic-decoder-layers", n.semantic_decoder_layers, "semantic decoder depth")
      ->capture_default_str()
      ->group(group);
  c->add_option("--semantic-decoder-heads", n.semantic_decoder_heads, "semantic decoder heads")
      ->capture_default_str()
      ->group(group);
  c->add_option("--semantic-distance-weight", n.semantic_distance_weight,
                "w in argmin(w d_sem + d_pix): 1 is TokenFlow, 0 a pixel-only baseline")
      ->capture_default_str()
      ->group(group);
  c->add_option("--disc-dim", r.discriminator_channels, "PatchGAN base channels")->capture_default_str()->group(group);
  c->add_option("--disc-layers", r.discriminator_layers, "PatchGAN layers")->capture_default_str()->group(group);
}

void add_loss_options(CLI::App* c, TrainOptions& o) {
  auto& loss = o.run.settings.loss;
  const char* group = "Losses";
  c->add_option("--commit-loss-beta", loss.commit_beta, "commitment weight")->capture_default_str()->group(group);
  c->add_option("--entropy-loss-ratio", loss.entropy_ratio, "entropy loss weight")->capture_default_str()->group(group);
  c->add_option("--reconstruction-loss", loss.reconstruction, "l1 or l2")->check(CLI::IsMember({"l1", "l2"}))->group(group);
  c->add_option("--reconstruction-weight", loss.reconstruction_weight, "pixel loss weight")->capture_default_str()->group(group);
  c->add_option("--perceptual-weight", loss.perceptual_weight, "LPIPS weight")->capture_default_str()->group(group);
  c->add_option("--disc-weight", loss.disc_weight, "adversarial weight")->capture_default_str()->group(group);
  c->add_option("--disc-start", loss.disc_start, "step from which the adversarial terms count")
      ->capture_default_str()
      ->group(group);
  c->add_flag("--disc-adaptive-weight", loss.disc_adaptive_weight, "balance the adversarial gradient (VQGAN)")->group(group);
  c->add_option("--disc-loss", loss.disc_loss, "hinge, vanilla or non-saturating")
      ->check(CLI::IsMember({"hinge", "vanilla", "non-saturating"}))
      ->group(group);
  c->add_option("--gen-loss", loss.gen_loss, "hinge or non-saturating")
      ->check(CLI::IsMember({"hinge", "non-saturating"}))
      ->group(group);
  c->add_option("--scale-drop", loss.scale_drop_probability, "probability of dropping one scale in a step")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(group);
}

void add_optimizer_options(CLI::App* c, TrainOptions& o) {
  auto& optimizer = o.run.settings.optimizer;
  const char* group = "Optimizer";
  c->add_option("--lr", optimizer.lr, "Adam learning rate")->capture_default_str()->group(group);
  c->add_option("--beta1", optimizer.beta1, "Adam beta1")->capture_default_str()->group(group);
  c->add_option("--beta2", optimizer.beta2, "Adam beta2")->capture_default_str()->group(group);
  c->add_option("--max-grad-norm", optimizer.max_grad_norm, "gradient clipping (0: off)")->capture_default_str()->group(group);
  c->add_flag("--ema", optimizer.ema, "keep an EMA of the weights (saved as `ema`)")->group(group);
  c->add_option("--ema-decay", optimizer.ema_decay, "EMA decay")->capture_default_str()->group(group);
  c->add_flag("--finetune-decoder,--finetune_decoder", optimizer.finetune_decoder, "train the pixel decoder only")
      ->group(group);
}

}  // namespace

std::vector<Command> add_train_commands(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* c = app.add_subcommand("train", "train a TokenFlow tokenizer (the official vq_train.py recipe)")->group("Training");
  add_data_options(c, *options);
  add_network_options(c, *options);
  add_loss_options(c, *options);
  add_optimizer_options(c, *options);
  c->add_option("--nproc", options->processes, "run N local data-parallel processes (c10d Gloo)")
      ->check(CLI::PositiveNumber)
      ->group(kComputeGroup);
  add_threads_option(c, options->threads, true);
  add_device_option(c, options->run.device, " (rank r uses cuda:LOCAL_RANK)");
  return {{c, [options](const std::vector<std::string>& arguments) { return run_train(*options, arguments); }}};
}

}  // namespace tokenflow::cli
