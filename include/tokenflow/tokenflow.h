#pragma once
// tokenflow: the TokenFlow image tokenizer (Qu et al., CVPR 2025) on LibTorch, for inference.
// The headers it gathers, each usable alone:
//   tokenizer.h   Model: images <-> multi-scale tokens, and what a checkpoint is (ModelConfig)
//   tokens.h      token files (.npy, .json): read, write, validate
//   image.h       images from and to files or memory, with the official preprocessing
//   npy.h         NumPy arrays
//   files.h       a command's outputs: written as one, batch naming
//   checkpoint.h  info as data, convert to .safetensors
//   runtime.h     threads, allocator, version, the default model
// Training, evaluation and plotting have their own headers (train.h, evaluate.h, plot.h) and targets.
#include <tokenflow/checkpoint.h>
#include <tokenflow/error.h>
#include <tokenflow/files.h>
#include <tokenflow/image.h>
#include <tokenflow/npy.h>
#include <tokenflow/runtime.h>
#include <tokenflow/tokenizer.h>
#include <tokenflow/tokens.h>
