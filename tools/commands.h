#pragma once
// The subcommand groups, one file each. Each adds its subcommands to `app` and returns them with
// their work; the options they bind live as long as the returned commands.
#include "options.h"

#include <vector>

namespace tokenflow::cli {

std::vector<Command> add_tokenizer_commands(CLI::App& app);   // encode, decode, reconstruct, embed
std::vector<Command> add_checkpoint_commands(CLI::App& app);  // info, convert
std::vector<Command> add_train_commands(CLI::App& app);       // train
std::vector<Command> add_teacher_commands(CLI::App& app);     // train-teacher, eval-teacher
std::vector<Command> add_evaluate_command(CLI::App& app);     // evaluate
std::vector<Command> add_plot_command(CLI::App& app);         // plot
std::vector<Command> add_generate_command(CLI::App& app);     // generate
std::vector<Command> add_chat_commands(CLI::App& app);        // chat, describe

}  // namespace tokenflow::cli
