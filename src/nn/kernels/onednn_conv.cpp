#include "nn/kernels/onednn_conv.h"

#include <torch/version.h>

#include <map>
#include <mutex>
#include <tuple>

#ifdef TOKENFLOW_WITH_ONEDNN
#include <dnnl.hpp>
#endif

namespace tokenflow::nn {

namespace {
constexpr int64_t kBlock = 16;
}  // namespace

torch::Tensor to_blocked(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) % kBlock == 0, "to_blocked: N x C x H x W with C a multiple of 16");
  return x.reshape({x.size(0), x.size(1) / kBlock, kBlock, x.size(2), x.size(3)}).permute({0, 1, 3, 4, 2}).contiguous();
}

torch::Tensor from_blocked(const torch::Tensor& blocked) {
  TORCH_CHECK(is_blocked(blocked), "from_blocked: N x C/16 x H x W x 16");
  const auto n = blocked.size(0), c = blocked.size(1) * kBlock, h = blocked.size(2), w = blocked.size(3);
  return blocked.permute({0, 1, 4, 2, 3}).reshape({n, c, h, w}).contiguous();
}

bool is_blocked(const torch::Tensor& x) { return x.dim() == 5 && x.size(4) == kBlock && x.is_contiguous(); }

bool winograd_applies(const torch::nn::Conv2d& conv) {
  const auto& o = conv->options;
  return (*o.kernel_size())[0] == 3 && (*o.kernel_size())[1] == 3 && (*o.stride())[0] == 1 && (*o.stride())[1] == 1 &&
         o.in_channels() % kBlock == 0 && o.out_channels() % kBlock == 0 && o.groups() == 1;
}

#ifdef TOKENFLOW_WITH_ONEDNN

bool onednn_available() { return true; }

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN refuses the primitive descriptor where it has no Winograd kernel for the CPU.
bool probe_winograd() {
  using namespace dnnl;
  const memory::desc map({1, 16, 8, 8}, memory::data_type::f32, memory::format_tag::nChw16c);
  const memory::desc weights({16, 16, 3, 3}, memory::data_type::f32, memory::format_tag::any);
  const memory::desc bias({16}, memory::data_type::f32, memory::format_tag::x);
  try {
    const convolution_forward::desc description(prop_kind::forward_inference, algorithm::convolution_winograd, map,
                                                weights, bias, map, {1, 1}, {1, 1}, {1, 1});
    convolution_forward::primitive_desc(description, cpu_engine());
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

// A convolution primitive for one input shape, with the weights in the layout it asked for.
struct Prepared {
  dnnl::convolution_forward primitive;
  dnnl::memory weights;
  dnnl::memory::desc src, dst, scratchpad;
};

dnnl::memory::desc map_desc(int64_t n, int64_t c, int64_t h, int64_t w) {
  using tag = dnnl::memory::format_tag;
  return {{n, c, h, w}, dnnl::memory::data_type::f32, c % kBlock == 0 ? tag::nChw16c : tag::nchw};
}

dnnl::memory::desc bias_desc(int64_t channels) {
  return {{channels}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::x};
}

}  // namespace

bool winograd_available() {
  static const bool available = probe_winograd();
  return available;
}

struct BlockedConv2d::Impl {
  torch::Tensor weight, bias;  // the module's, float32 OIHW
  ConvAlgorithm algorithm = ConvAlgorithm::Direct;
  int64_t stride = 1, padding = 0, end_padding = 0;
  mutable std::mutex mutex;
  mutable std::map<std::tuple<int64_t, int64_t, int64_t>, std::shared_ptr<Prepared>> prepared;
  // The weights in each layout a primitive asked for: shapes that ask for the same one share it, so
  // a new batch size costs a primitive, not another copy of the weights.
  mutable std::vector<dnnl::memory> reordered_weights;

  dnnl::memory weights_as(const dnnl::memory::desc& layout) const {
    for (const auto& weights : reordered_weights) {
      if (weights.get_desc() == layout) return weights;
    }
    using namespace dnnl;
    const memory::dims dims{weight.size(0), weight.size(1), weight.size(2), weight.size(3)};
    memory plain({dims, memory::data_type::f32, memory::format_tag::oihw}, cpu_engine(), weight.data_ptr());
    memory reordered(layout, cpu_engine());
    stream stream(cpu_engine());
    reorder(plain, reordered).execute(stream, plain, reordered);
    stream.wait();
    reordered_weights.push_back(reordered);
    return reordered;
  }

  std::shared_ptr<Prepared> prepare(int64_t n, int64_t h, int64_t w) const {
    using namespace dnnl;
    const int64_t out_channels = weight.size(0), in_channels = weight.size(1), kernel = weight.size(2);
    const int64_t out_h = (h + 2 * padding + end_padding - kernel) / stride + 1;
    const int64_t out_w = (w + 2 * padding + end_padding - kernel) / stride + 1;
    auto result = std::make_shared<Prepared>();
    result->src = map_desc(n, in_channels, h, w);
    result->dst = map_desc(n, out_channels, out_h, out_w);
    const memory::dims weight_dims{out_channels, in_channels, kernel, kernel};
    const memory::desc any_weights(weight_dims, memory::data_type::f32, memory::format_tag::any);
    const convolution_forward::desc description(
        prop_kind::forward_inference,
        algorithm == ConvAlgorithm::Winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct,
        result->src, any_weights, bias_desc(out_channels), result->dst, {stride, stride}, {padding, padding},
        {padding + end_padding, padding + end_padding});
    // The caller's scratchpad, so that threads may run one primitive at once (oneDNN's own is shared
    // unless the library was built for concurrent execution).
    primitive_attr attributes;
    attributes.set_scratchpad_mode(scratchpad_mode::user);
    const convolution_forward::primitive_desc primitive_desc(description, attributes, cpu_engine());
    result->primitive = convolution_forward(primitive_desc);
    result->scratchpad = primitive_desc.scratchpad_desc();
    result->weights = weights_as(primitive_desc.weights_desc());
    return result;
  }

  std::shared_ptr<Prepared> for_shape(int64_t n, int64_t h, int64_t w) const {
    std::lock_guard<std::mutex> lock(mutex);
    auto& entry = prepared[{n, h, w}];
    if (!entry) entry = prepare(n, h, w);
    return entry;
  }
};

BlockedConv2d::BlockedConv2d(const torch::nn::Conv2d& conv, ConvAlgorithm algorithm, int end_padding)
    : impl_(std::make_shared<Impl>()) {
  const auto& o = conv->options;
  TORCH_CHECK(algorithm == ConvAlgorithm::Direct || winograd_applies(conv), "Winograd needs a 3x3 stride-1 convolution of 16k channels");
  TORCH_CHECK((*o.kernel_size())[0] == (*o.kernel_size())[1] && (*o.stride())[0] == (*o.stride())[1] && o.groups() == 1 &&
                  (*o.dilation())[0] == 1 && (*o.dilation())[1] == 1,
              "BlockedConv2d: square kernels and strides, no groups or dilation");
  // Padding is a c10::variant up to LibTorch 2.0, a std::variant from 2.1.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&o.padding());
#else
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
#endif
  TORCH_CHECK(padding && (**padding)[0] == (**padding)[1], "BlockedConv2d: equal explicit padding");
  TORCH_CHECK(conv->weight.scalar_type() == torch::kFloat32 && conv->weight.device().is_cpu(), "BlockedConv2d: float32 CPU weights");
  impl_->weight = conv->weight.detach().contiguous();
  impl_->bias = conv->bias.defined() ? conv->bias.detach().contiguous() : torch::zeros({impl_->weight.size(0)});
  impl_->algorithm = algorithm;
  impl_->stride = (*o.stride())[0];
  impl_->padding = (**padding)[0];
  impl_->end_padding = end_padding;
}

torch::Tensor BlockedConv2d::forward(const torch::Tensor& x) const {
  const int64_t in_channels = impl_->weight.size(1), out_channels = impl_->weight.size(0);
  const bool blocked_in = in_channels % kBlock == 0;
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 && x.device().is_cpu(), "BlockedConv2d: float32 CPU input");
  TORCH_CHECK(blocked_in ? is_blocked(x) && x.size(1) * kBlock == in_channels
                         : x.dim() == 4 && x.is_contiguous() && x.size(1) == in_channels,
              "BlockedConv2d: input of the wrong layout or channels");
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const auto prepared = impl_->for_shape(n, h, w);
  const auto dims = prepared->dst.dims();
  auto out = out_channels % kBlock == 0 ? torch::empty({n, out_channels / kBlock, dims[2], dims[3], kBlock})
                                        : torch::empty({n, out_channels, dims[2], dims[3]});
  // The bias is plain float32 in every layout: the module's own memory serves.
  dnnl::memory bias(bias_desc(out_channels), cpu_engine(), impl_->bias.data_ptr());
  dnnl::memory src(prepared->src, cpu_engine(), x.data_ptr());
  dnnl::memory dst(prepared->dst, cpu_engine(), out.data_ptr());
  auto scratch = torch::empty({static_cast<int64_t>(prepared->scratchpad.get_size())}, torch::kUInt8);
  dnnl::memory scratchpad(prepared->scratchpad, cpu_engine(), scratch.data_ptr());
  dnnl::stream stream(cpu_engine());
  prepared->primitive.execute(stream, {{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_WEIGHTS, prepared->weights},
                                       {DNNL_ARG_BIAS, bias},
                                       {DNNL_ARG_DST, dst},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad}});
  stream.wait();
  return out;
}

#else

bool onednn_available() { return false; }
bool winograd_available() { return false; }

struct BlockedConv2d::Impl {};

BlockedConv2d::BlockedConv2d(const torch::nn::Conv2d&, ConvAlgorithm, int) {
  TORCH_CHECK(false, "this build has no oneDNN (install libdnnl-dev and configure again)");
}

torch::Tensor BlockedConv2d::forward(const torch::Tensor&) const {
  TORCH_CHECK(false, "this build has no oneDNN");
  return {};
}

#endif

}  // namespace tokenflow::nn
