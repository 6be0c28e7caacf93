import torch
import torch.nn.functional as F
from torch import nn


class PytorchGELUTanh(nn.Module):
    """SigLIP's hidden_act "gelu_pytorch_tanh": the tanh approximation of GELU."""

    def forward(self, input):
        return F.gelu(input, approximate="tanh")


class GELUActivation(nn.Module):
    def forward(self, input):
        return F.gelu(input)


class QuickGELUActivation(nn.Module):
    def forward(self, input):
        return input * torch.sigmoid(1.702 * input)


ACT2FN = {
    "gelu": GELUActivation(),
    "gelu_pytorch_tanh": PytorchGELUTanh(),
    "quick_gelu": QuickGELUActivation(),
    "relu": nn.ReLU(),
    "silu": nn.SiLU(),
    "tanh": nn.Tanh(),
}
