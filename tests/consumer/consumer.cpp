// Encodes and decodes one image with the installed library: an inference program that links the
// tokenizer layer alone. Prints the token count and the decoded image's shape.
#include <tokenflow/tokenflow.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer MODEL\n");
    return 2;
  }
  try {
    tokenflow::LoadOptions options;
    options.precision = tokenflow::Precision::Fp32;
    const auto model = tokenflow::Model::load(argv[1], options);
    const int size = model.config().image_size;
    const auto images = torch::rand({1, 3, size, size}).mul(2).sub(1);
    const auto encoded = model.encode(images);
    const auto decoded = model.decode_indices(encoded.indices);
    std::printf("tokens %ld decoded %ldx%ldx%ld\n", static_cast<long>(encoded.indices.size(1)),
                static_cast<long>(decoded.size(1)), static_cast<long>(decoded.size(2)), static_cast<long>(decoded.size(3)));
  } catch (const tokenflow::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
