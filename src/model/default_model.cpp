// Where the model comes from when a caller names none (include/tokenflow/tokenflow.h).
#include <tokenflow/tokenflow.h>

#include <cstdlib>

#ifndef TOKENFLOW_DEFAULT_MODEL
#error "CMakeLists.txt defines TOKENFLOW_DEFAULT_MODEL, the path of the shipped model, for this file"
#endif

namespace tokenflow {

std::string default_model_path() {
  const char* chosen = std::getenv("TOKENFLOW_MODEL");
  return chosen != nullptr && *chosen != '\0' ? chosen : TOKENFLOW_DEFAULT_MODEL;
}

}  // namespace tokenflow
