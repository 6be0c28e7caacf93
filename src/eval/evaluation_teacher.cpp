// The teacher side of an evaluation (include/tokenflow/evaluate.h), loaded from its files.
#include "eval/image_lists.h"
#include "eval/tokenizer_evaluation.h"

#include <tokenflow/error.h>

#include "io/checkpoint.h"

namespace tokenflow::eval {

EvaluationTeacher::EvaluationTeacher(std::unique_ptr<Networks> networks) : networks_(std::move(networks)) {}
EvaluationTeacher::~EvaluationTeacher() = default;
EvaluationTeacher::EvaluationTeacher(EvaluationTeacher&&) noexcept = default;
EvaluationTeacher& EvaluationTeacher::operator=(EvaluationTeacher&&) noexcept = default;

EvaluationTeacher::Networks& EvaluationTeacher::networks() const { return *networks_; }

EvaluationTeacher EvaluationTeacher::load(const std::string& teacher, const std::string& captions,
                                          const std::string& list) {
  auto networks = std::make_unique<Networks>();
  const auto state = io::load_state_dict(teacher);
  if (!captions.empty()) {
    networks->captioned = read_captioned_images(captions, list).images;
    if (!state.contains("token_embedding.weight")) {
      throw Error(teacher + ": no text tower (token_embedding.weight); captions need a train-teacher checkpoint");
    }
    networks->clip = model::load_clip(teacher);
  }
  networks->image_tower = model::load_teacher(state, teacher);
  return EvaluationTeacher(std::move(networks));
}

TeacherRetrieval evaluate_teacher(const std::string& checkpoint, const std::string& captions, const std::string& list,
                                  int64_t batch_size) {
  const auto images = read_captioned_images(captions, list);
  auto trained = model::load_clip(checkpoint);
  return {evaluate_retrieval(*trained.model, trained.tokenizer, images.images, batch_size), images.uncaptioned};
}

}  // namespace tokenflow::eval
