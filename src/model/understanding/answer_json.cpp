// answer_json (include/tokenflow/understanding.h).
#include <tokenflow/understanding.h>

#include <nlohmann/json.hpp>

namespace tokenflow {

std::string answer_json(const Answer& answer) {
  nlohmann::ordered_json json;
  json["text"] = answer.text;
  json["ids"] = answer.ids;
  json["ended"] = answer.ended;
  json["answer_tokens"] = answer.ids.size();
  json["prompt_tokens"] = answer.prompt_tokens;
  json["computed_prompt_tokens"] = answer.computed_prompt_tokens;
  json["seed"] = answer.seed;
  json["seconds"] = {{"image", answer.image_seconds}, {"prefill", answer.prefill_seconds}, {"decode", answer.decode_seconds}};
  // The text is what the tokenizer decoded, U+FFFD where bytes were not UTF-8, so it serialises.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tokenflow
