#pragma once
// The networks behind include/tokenflow/evaluate.h's EvaluationTeacher.
#include <tokenflow/evaluate.h>

#include "model/teacher/clip_model.h"
#include "eval/retrieval.h"
#include "model/teacher/teacher.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenflow::eval {

// What an EvaluationTeacher holds, all optional: the teacher's image tower (model::load_teacher) for
// semantic fidelity, and for caption retrieval the whole CLIP of a train-teacher checkpoint
// (model::load_clip, the same weights) with the listed images that have captions
// (read_captioned_images).
struct EvaluationTeacher::Networks {
  std::shared_ptr<model::Teacher> image_tower;
  std::optional<model::TrainedClip> clip;
  std::vector<CaptionedImage> captioned;
};

}  // namespace tokenflow::eval
