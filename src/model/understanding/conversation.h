#pragma once
// The official conversation template `qwen_2_5` (conv_qwen in i2t/llava/conversation.py, separator
// style CHATML), rendered as Conversation.get_prompt renders it:
//   <|im_start|>system\n{system}<|im_end|>\n <|im_start|>user\n{message}<|im_end|>\n ...
//   <|im_start|>assistant\n   (the turn being answered)
#include <string>
#include <utility>
#include <vector>

namespace tokenflow::understanding {

// Where the image goes in a user message (DEFAULT_IMAGE_TOKEN); tokenizer_image_token splits there.
extern const char* const kImagePlaceholder;
extern const char* const kDefaultSystemMessage;

class Conversation {
 public:
  explicit Conversation(std::string system_message = kDefaultSystemMessage);

  // A user turn, with an empty assistant turn after it to be answered.
  void ask(const std::string& message);
  // Fills the open assistant turn (cli.py stores the decoded answer, special tokens kept, stripped).
  void answer(const std::string& message);
  std::string prompt() const;

 private:
  std::string system_;
  std::vector<std::pair<std::string, std::string>> messages_;  // role, message ("" while open)
};

}  // namespace tokenflow::understanding
