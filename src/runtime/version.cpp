#include <tokenflow/runtime.h>

#ifndef TOKENFLOW_VERSION
#error "src/CMakeLists.txt defines TOKENFLOW_VERSION, the project's version, for this file"
#endif

namespace tokenflow {

const char* version() { return TOKENFLOW_VERSION; }

}  // namespace tokenflow
