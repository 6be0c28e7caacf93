"""Makes the small fixtures of tests/io (run once with PyTorch 1.13, numpy and Pillow; the tests
themselves need no Python):

- dtypes.pt: torch.save of {'state_dict': OrderedDict, 'epoch', 'args'} holding a tensor of every
  supported dtype, strided views sharing one storage, a Parameter, a 0-d and an empty tensor, and a
  nested dict; tests/io/test_checkpoint.cpp rebuilds the expected values with the same formulas.
- photo_161x97.png, grey_30x20.png, rgba_23x31.png and expected_<name>_<size>.npy: the official
  TokenFlow preprocessing (ADM center_crop_arr after convert("RGB")) done by Pillow, as uint8 H x W x 3.
"""
import argparse
import collections

import numpy as np
import torch
from PIL import Image


def center_crop_arr(pil_image, image_size):  # ADM / official TokenFlow
    while min(*pil_image.size) >= 2 * image_size:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=Image.BOX)
    scale = image_size / min(*pil_image.size)
    pil_image = pil_image.resize(tuple(round(x * scale) for x in pil_image.size), resample=Image.BICUBIC)
    arr = np.array(pil_image)
    crop_y = (arr.shape[0] - image_size) // 2
    crop_x = (arr.shape[1] - image_size) // 2
    return arr[crop_y:crop_y + image_size, crop_x:crop_x + image_size]


def checkpoint():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = collections.OrderedDict()
    state["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5
    state["f64"] = torch.arange(6, dtype=torch.float64) / 3
    state["f16"] = (torch.arange(6, dtype=torch.float32) / 7).half()
    state["bf16"] = (torch.arange(6, dtype=torch.float32) / 7).bfloat16()
    state["i64"] = torch.arange(-3, 3, dtype=torch.int64) * (1 << 40)
    state["i32"] = torch.arange(-3, 3, dtype=torch.int32)
    state["u8"] = torch.arange(250, 256, dtype=torch.uint8)
    state["bool"] = torch.tensor([True, False, True])
    state["scalar"] = torch.tensor(2.5)
    state["empty"] = torch.zeros(0, 3)
    state["view.slice"] = base[1:3, 2:5]
    state["view.transposed"] = base.t()
    state["param"] = torch.nn.Parameter(torch.full((2, 2), 0.25))
    state["nested"] = {"inner": {"w": torch.ones(2)}, "note": "skipped"}
    state._metadata = collections.OrderedDict({"": {"version": 1}})
    torch.save({"state_dict": state, "epoch": 3, "args": argparse.Namespace(lr=0.1)}, "dtypes.pt")


def images():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:97, 0:161]
    photo = np.stack([x * 1.5, y * 2.5, (x + y) % 256], axis=-1) + rng.normal(0, 12, (97, 161, 3))
    photo = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")
    grey = Image.fromarray(rng.integers(0, 256, (20, 30), dtype=np.uint8), "L")
    rgba = Image.fromarray(rng.integers(0, 256, (31, 23, 4), dtype=np.uint8), "RGBA")
    for name, image, sizes in [("photo_161x97", photo, [40, 24]), ("grey_30x20", grey, [40]), ("rgba_23x31", rgba, [16])]:
        image.save(name + ".png")
        for size in sizes:
            np.save(f"expected_{name}_{size}.npy", center_crop_arr(Image.open(name + ".png").convert("RGB"), size))


if __name__ == "__main__":
    checkpoint()
    images()
