#include "model/understanding/conversation.h"

namespace tokenflow::understanding {

const char* const kImagePlaceholder = "<image>";
const char* const kDefaultSystemMessage = "You are a helpful assistant.";

namespace {

const char* const kUser = "<|im_start|>user";
const char* const kAssistant = "<|im_start|>assistant";
const char* const kSeparator = "<|im_end|>";

}  // namespace

Conversation::Conversation(std::string system_message) : system_("<|im_start|>system\n" + std::move(system_message)) {}

void Conversation::ask(const std::string& message) {
  messages_.emplace_back(kUser, message);
  messages_.emplace_back(kAssistant, "");
}

void Conversation::answer(const std::string& message) {
  if (!messages_.empty() && messages_.back().second.empty()) messages_.back().second = message;
}

std::string Conversation::prompt() const {
  std::string text = system_ + kSeparator + "\n";
  for (const auto& [role, message] : messages_) {
    text += role + "\n";
    if (!message.empty()) text += message + kSeparator + "\n";
  }
  return text;
}

}  // namespace tokenflow::understanding
