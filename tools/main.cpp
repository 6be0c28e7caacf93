// tokenflow: the command-line front end of the TokenFlow library. Each subcommand group is a file
// (commands.h); this file parses the command line and reports failures.
//
//   tokenflow encode      [-m MODEL] IN... -o TOKENS.{npy,json} [--features QUANT.npy]
//   tokenflow decode      [-m MODEL] TOKENS.{npy,json} -o OUT.{npy,png,jpg}
//   tokenflow reconstruct [-m MODEL] IN... -o OUT.{npy,png,jpg}
//   tokenflow embed       [-m MODEL] IN... -o FEATURES.npy [--semantic SEMANTIC.npy]
//   tokenflow info        [-m MODEL] [--json] [-o FILE]
//   tokenflow convert     -m MODEL.pt -o MODEL.safetensors   (or: convert MODEL.pt MODEL.safetensors)
//   tokenflow evaluate    [-m MODEL] --list data/val.txt [--teacher TEACHER.pt [--captions data/captions.tsv]]
//   tokenflow train       --data DIR --teacher CLIP.pt --perceptual LPIPS.pt|none -o RUN [--config RUN.toml] ...
//   tokenflow train-teacher --captions data/captions.tsv --train-list data/train.txt -o RUN ...
//   tokenflow eval-teacher  -m RUN/checkpoints/N.pt --captions data/captions.tsv --list data/val.txt
//   tokenflow plot        RUN/log.jsonl -o LOSS.{png,svg,pdf}
//   tokenflow generate    -m TokenFlow-t2i/ [--tokenizer T.pt] "PROMPT"... -o OUT.png [--seed N] [--loop 1|2|3] ...
//   tokenflow chat        -m LLAVA/ [--tokenizer T.pt] --image IMG ["QUESTION"...] [--temperature T] [--json] ...
//   tokenflow describe    -m LLAVA/ IMG
//
// Without -m, MODEL is tokenflow::default_model_path(). IN is image files (a batch) or one .npy tensor
// B x 3 x S x S in [-1, 1]. Failures print one line, `tokenflow: error: ...`, exit with status 1 (2
// for a command-line mistake) and leave no output.
#include "commands.h"

#include <tokenflow/error.h>
#include <tokenflow/runtime.h>

#include <torch/torch.h>

#include <iostream>

namespace {

int fail(const std::string& message, int status) {
  std::cerr << "tokenflow: error: " << tokenflow::first_line(message) << std::endl;
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tokenflow::cli;
  tokenflow::reuse_freed_memory();
  CLI::App app{"tokenflow: the TokenFlow image tokenizer (Qu et al., CVPR 2025) on LibTorch"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tokenflow ") + tokenflow::version());
  std::vector<Command> commands;
  for (auto add : {add_tokenizer_commands, add_checkpoint_commands, add_evaluate_command, add_train_commands,
                   add_teacher_commands, add_plot_command, add_generate_command, add_chat_commands}) {
    auto group = add(app);
    commands.insert(commands.end(), group.begin(), group.end());
  }

  std::vector<std::string> arguments(argv, argv + argc);
  try {
    arguments = merge_config_file(arguments, app);
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend() - 1);  // CLI11 takes them reversed, without argv[0]
    app.parse(reversed);
  } catch (const tokenflow::Error& e) {
    return fail(e.what(), 2);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& e) {
    return fail(e.what(), 2);
  }

  try {
    for (const Command& command : commands)
      if (command.app->parsed()) return command.run(arguments);
  } catch (const c10::Error& e) {
    return fail(e.what_without_backtrace(), 1);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
  return 0;
}
