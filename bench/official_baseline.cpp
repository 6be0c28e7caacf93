#include "official_baseline.h"

namespace tokenflow::bench {

namespace {

torch::Tensor normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(-1));
}

torch::Tensor distances(const torch::Tensor& z, const torch::Tensor& e) {
  return torch::sum(z.pow(2), 1, true) + torch::sum(e.pow(2), 1) - 2 * torch::einsum("bd,dn->bn", {z, e.t()});
}

// VectorQuantizer.forward in eval mode, including the work whose results eval discards.
std::pair<torch::Tensor, torch::Tensor> official_quantize(nn::DualCodebookQuantizer& q, const torch::Tensor& input) {
  auto z = input.permute({0, 2, 3, 1}).contiguous();
  auto flat = z.view({-1, z.size(3)});
  auto z_sem = normalize(flat.slice(1, 0, q.semantic_dim));
  auto z_pix = normalize(flat.slice(1, q.semantic_dim));
  auto e_sem = normalize(q.embedding_vqkd->weight);
  auto e_pix = normalize(q.embedding_vqgan->weight);
  auto d_sem = distances(z_sem, e_sem);
  auto d_pix = distances(z_pix, e_pix);
  // Logged statistics the official forward computes on every call.
  torch::mean(torch::sum(d_sem.pow(2), -1));
  torch::mean(torch::sum(d_pix.pow(2), -1));
  auto indices = torch::argmin(d_sem + 1.0 * d_pix, 1);
  auto all = torch::cat({e_sem, e_pix}, -1);
  auto z_q = all.index({indices}).view({z.size(0), z.size(1), z.size(2), -1});
  torch::one_hot(indices, q.embedding_vqkd->weight.size(0)).to(torch::kFloat32);  // `encodings`, unused in eval
  auto normalized = torch::cat({normalize(z.slice(3, 0, q.semantic_dim)), normalize(z.slice(3, q.semantic_dim))}, -1);
  z_q = normalized + (z_q - normalized);
  return {z_q.permute({0, 3, 1, 2}), indices.reshape({z.size(0), -1})};
}

}  // namespace

torch::Tensor official_features(model::TokenFlowNet& net, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  auto semantic = net.semantic_features(images);
  auto pixel_input = images.size(2) == net.config.pixel_image_size
                         ? images
                         : torch::upsample_bicubic2d(images, {net.config.pixel_image_size, net.config.pixel_image_size}, false);
  auto pixel = net.quant_conv(net.encoder->forward(pixel_input));
  return torch::cat({semantic, pixel}, 1);
}

EncodeResult official_encode(model::TokenFlowNet& net, const torch::Tensor& images) {
  return official_quantize_multiscale(net, official_features(net, images));
}

EncodeResult official_quantize_multiscale(model::TokenFlowNet& net, const torch::Tensor& features) {
  torch::NoGradGuard no_grad;
  auto residual = features;
  const int grid = net.config.grid();
  torch::Tensor total = torch::zeros_like(residual);
  std::vector<torch::Tensor> indices;
  for (int scale : net.config.scales) {
    auto [quantized, index] = official_quantize(*net.quantize, torch::adaptive_avg_pool2d(residual, {scale, scale}));
    auto upsampled = torch::upsample_bicubic2d(quantized, {grid, grid}, false);
    total = total + upsampled;
    residual = residual - upsampled;
    indices.push_back(index);
  }
  return {torch::cat(indices, 1), total};
}

std::pair<torch::Tensor, torch::Tensor> official_decode(model::TokenFlowNet& net, const torch::Tensor& indices) {
  torch::NoGradGuard no_grad;
  const auto& c = net.config;
  auto codebook = net.quantize->normalized_codebook();
  torch::Tensor total;
  int64_t position = 0;
  for (int scale : c.scales) {
    auto entries = codebook.index({indices.slice(1, position, position + scale * scale)});
    auto map = entries.view({indices.size(0), scale, scale, -1}).permute({0, 3, 1, 2});
    auto upsampled = torch::upsample_bicubic2d(map, {c.grid(), c.grid()}, false);
    total = total.defined() ? total + upsampled : upsampled;
    position += scale * scale;
  }
  auto semantic = net.decode_task_layer->forward(net.decoder_vqkd->forward(total.slice(1, 0, c.semantic_code_dim)));
  auto image = net.decoder->forward(net.post_quant_conv(total.slice(1, c.semantic_code_dim)));
  if (image.size(2) != c.image_size) image = torch::upsample_bicubic2d(image, {c.image_size, c.image_size}, false);
  return {semantic, image};
}

}  // namespace tokenflow::bench
