#!/usr/bin/env python3
"""Regenerate the tokenizer parity fixtures (clipb224, clipb256e, siglip384, train_step) by running the
official PyTorch TokenFlow code (ByteFlow-AI/TokenFlow) with tiny random weights.

    OFFICIAL_TOKENFLOW=/path/to/TokenFlow nice /usr/bin/python3 scripts/parity/make_fixtures.py --out DIR
    OFFICIAL_TOKENFLOW=/path/to/TokenFlow nice /usr/bin/python3 scripts/parity/make_fixtures.py --out DIR \
        --weights-from ../shared/parity

The official files run unmodified. What this script changes, at run time only, is where sizes and
weights come from (see README.md next to it):
  * pixel Encoder/Decoder get `ch=32` (the official code hard-codes 128, or 256 for the enhanced decoder);
  * `get_model_default_params()` returns ViT sizes of width 64 with 32-dim heads, and keeps the width at
    64 when TokenFlow.__init__ writes the released CLIP width (768) into it;
  * the semantic decoder's output Linear is rebuilt narrow (48 / 40 instead of 512 / 1152), with the
    official `_init_weights`;
  * the loaders that download released weights (clip.load_clip_vision, clip.load, SigLIP's
    from_pretrained, torchvision's VGG16 and the LPIPS heads) build the same classes at tiny sizes with
    random weights;
  * every 1-D parameter of the tokenizer gets + 0.05 N(0, 1), so that norm affines and biases are not
    all exactly 1 and 0 (a port that drops one would otherwise pass).
Third-party packages Debian 12 lacks (einops, timm, transformers' SigLIP, ftfy) come from ./stubs.

A fresh run does not reproduce ../shared/parity, which another script made: of its tokenizer
weights only the pixel trunk's and the CLIP tower's multi-dimensional tensors come out the same (the
semantic decoder, task layers, codebooks and every 1-D tensor differ), and its noise image differs.
`--weights-from REF` therefore loads REF's model.pt / input.npy (and train_step's teacher, LPIPS and
discriminator) into the same official code and writes only what it computes; compare.py then holds that
tree against REF's expected outputs with REF/README.md's tolerances.
"""

import argparse
import contextlib
import io
import json
import logging
import math
import os
import sys
import tempfile
import types
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER_FOLDERS = ("clipb224", "clipb256e", "siglip384")
ALL_FOLDERS = TOKENIZER_FOLDERS + ("train_step",)

# The tiny sizes of ../shared/parity (read off its model.pt files). Heads are not stored in a state
# dict: with 32-dim heads for the width-64 towers and OpenAI's width // 64 rule inside CLIP() for the
# teacher, --weights-from reproduces the shared outputs (another head count would not).
TINY = dict(
    pixel_ch=32,            # Encoder/Decoder `ch` (released: 128; enhanced decoder 256)
    z_channels=64,          # ModelArgs.z_channels (released: 256)
    codebook_size=1024,     # released: 32768
    codebook_embed_dim=8,   # pixel code dim (as released)
    semantic_code_dim=32,   # semantic code dim (as released)
    vit_width=64,           # semantic decoder (vqkd VisionTransformer) and task-layer width
    vit_heads=2,
    clip_width=64, clip_layers=2, clip_heads=2, clip_patch=16, clip_resolution=224,
    siglip_width=64, siglip_layers=3, siglip_heads=2, siglip_intermediate=128, siglip_patch=14,
    siglip_resolution=384,
    teacher_embed_dim=48, teacher_text_width=32, teacher_text_heads=1, teacher_text_layers=1,
    teacher_context=77, teacher_vocab=49408,
    perturb_1d_std=0.05,
)

VARIANTS = {
    "clipb224": dict(teacher="clipb_224", image_size=224, enhanced_decoder=False, infer_interpolate=False,
                     batch=2, checkpoint_key="model", semantic_out_dim=48),
    "clipb256e": dict(teacher="clipb_224", image_size=256, enhanced_decoder=True, infer_interpolate=True,
                      batch=2, checkpoint_key="ema", semantic_out_dim=48),
    "siglip384": dict(teacher="siglip_384", image_size=384, enhanced_decoder=False, infer_interpolate=False,
                      batch=1, checkpoint_key="model", semantic_out_dim=40),
}

# vq_train.py's argument defaults that reach the model and the loss, and the README's step settings.
TRAIN = dict(commit_loss_beta=0.25, entropy_loss_ratio=0.0, dropout_p=0.0, kmeans=False, disc_start=0,
             disc_weight=0.5, disc_type="patchgan", disc_loss="hinge", gen_loss="hinge",
             perceptual_weight=1.0, reconstruction_weight=1.0, reconstruction_loss="l2", codebook_weight=1.0,
             lr=1e-4, beta1=0.9, beta2=0.95, max_grad_norm=1.0, global_step=1, log_every=100)
# One parameter or two per branch: pixel encoder, quantizer, codebooks, pixel decoder, CLIP trunk,
# semantic task layers.
GRAD_PARAMS = ["decode_task_layer.2.weight", "decoder.conv_out.bias", "decoder.conv_out.weight",
               "encode_task_layer.2.weight", "encoder.conv_in.weight", "encoder_vqkd.conv1.weight",
               "post_quant_conv.weight", "quant_conv.weight", "quantize.embedding_vqgan.weight",
               "quantize.embedding_vqkd.weight"]


# --------------------------------------------------------------------------------------------------
# Loading the official code with tiny sizes
# --------------------------------------------------------------------------------------------------

def load_official():
    """Import the official tokenizer modules (stubs first on sys.path) and install the tiny-size shims."""
    root = os.environ.get("OFFICIAL_TOKENFLOW")
    if not root:
        sys.exit("set OFFICIAL_TOKENFLOW to a checkout of ByteFlow-AI/TokenFlow")
    code = os.path.join(os.path.abspath(root), "tokenflow")
    if not os.path.isfile(os.path.join(code, "tokenizer", "vq_model.py")):
        sys.exit(f"{code}/tokenizer/vq_model.py not found: OFFICIAL_TOKENFLOW must be the repository root")
    sys.path[:0] = [os.path.join(HERE, "stubs"), code]

    import torchvision
    from transformers import SiglipVisionConfig
    from transformers.modeling_utils import register_offline_pretrained

    with contextlib.redirect_stdout(io.StringIO()):
        import tokenizer.vq_model as vq_model
        import tokenizer.vq_loss as vq_loss
        import tokenizer.lpips as lpips
        from tokenizer.clip import clip as clip_api
        from tokenizer.clip import model as clip_model
        from dataset.augmentation import center_crop_arr

    off = types.SimpleNamespace(root=os.path.abspath(root), vq_model=vq_model, vq_loss=vq_loss, lpips=lpips,
                                clip_api=clip_api, clip_model=clip_model, center_crop_arr=center_crop_arr)

    # Pixel trunk width: TokenFlow.__init__ passes no `ch` (Encoder) or ch=256 (enhanced Decoder).
    class TinyEncoder(vq_model.Encoder):
        def __init__(self, *args, **kwargs):
            kwargs["ch"] = TINY["pixel_ch"]
            super().__init__(*args, **kwargs)

    class TinyDecoder(vq_model.Decoder):
        def __init__(self, *args, **kwargs):
            kwargs["ch"] = TINY["pixel_ch"]  # num_res_blocks (2, or 4 when enhanced) stays official
            super().__init__(*args, **kwargs)

    official_default_params = vq_model.get_model_default_params

    class TinyViTParams(dict):
        # TokenFlow.__init__ sets encoder_config["embed_dim"] = decoder_config["embed_dim"] = 768 for
        # the CLIP teacher after taking the defaults; the tiny towers are 64 wide whatever it writes.
        def __setitem__(self, key, value):
            super().__setitem__(key, TINY["vit_width"] if key == "embed_dim" else value)

    def tiny_default_params():
        params = TinyViTParams(official_default_params())
        params.update(embed_dim=TINY["vit_width"], num_heads=TINY["vit_heads"])
        return params

    def tiny_load_clip_vision(name, download_root=None):
        # Official: download OpenAI's ViT-B/16 JIT archive, build VisionTransformer from its sizes, load it.
        visual = clip_model.VisionTransformer(
            input_resolution=TINY["clip_resolution"], patch_size=TINY["clip_patch"], width=TINY["clip_width"],
            layers=TINY["clip_layers"], heads=TINY["clip_heads"], output_dim=TINY["teacher_embed_dim"])
        del visual.proj  # as load_clip_vision does
        return visual

    def tiny_clip_load(name, device="cpu", jit=False, download_root=None):
        # Official (jit=False): download, build_model(state_dict) -> CLIP(...).eval(), .float() on CPU.
        # build_model derives text heads as width // 64, which is 0 for a 32-wide text tower, so CLIP is
        # built directly; its vision tower gets width // 64 = 1 head inside CLIP.__init__.
        model = clip_model.CLIP(
            embed_dim=TINY["teacher_embed_dim"], image_resolution=TINY["clip_resolution"],
            vision_layers=TINY["clip_layers"], vision_width=TINY["clip_width"], vision_patch_size=TINY["clip_patch"],
            context_length=TINY["teacher_context"], vocab_size=TINY["teacher_vocab"],
            transformer_width=TINY["teacher_text_width"], transformer_heads=TINY["teacher_text_heads"],
            transformer_layers=TINY["teacher_text_layers"]).eval().to(device)
        if str(device) == "cpu":
            model.float()
        return model, clip_api._transform(model.visual.input_resolution)

    # SigLIP-so400m has 1152 wide, 27 layers; the tiny tower keeps patch 14 at 384 (27 x 27 tokens).
    register_offline_pretrained("google/siglip-so400m-patch14-384", SiglipVisionConfig(
        hidden_size=TINY["siglip_width"], intermediate_size=TINY["siglip_intermediate"],
        num_hidden_layers=TINY["siglip_layers"], num_attention_heads=TINY["siglip_heads"],
        image_size=TINY["siglip_resolution"], patch_size=TINY["siglip_patch"]))

    # LPIPS: torchvision's VGG16 with its own random init instead of the ImageNet download, and random
    # non-negative 1x1 heads (released LPIPS heads are non-negative) instead of vgg.pth, which the
    # official load_from_pretrained then loads as usual.
    lin_dir = tempfile.mkdtemp(prefix="parity_lpips_")

    def offline_ckpt_path(name, root, check=False):
        path = os.path.join(lin_dir, "vgg.pth")
        if not os.path.exists(path):
            heads = {f"lin{i}.model.1.weight": torch.empty(1, c, 1, 1).uniform_(0.0, 1.0 / math.sqrt(c))
                     for i, c in enumerate([64, 128, 256, 512, 512])}
            torch.save(heads, path)
        return path

    vq_model.Encoder = TinyEncoder
    vq_model.Decoder = TinyDecoder
    vq_model.get_model_default_params = tiny_default_params
    clip_api.load_clip_vision = tiny_load_clip_vision
    clip_api.load = tiny_clip_load
    lpips.models = types.SimpleNamespace(vgg16=lambda pretrained=False, **kw: torchvision.models.vgg16(weights=None))
    lpips.get_ckpt_path = offline_ckpt_path
    return off


def build_tokenizer(off, variant, seed, verbose=False):
    """The official TokenFlow for `variant` as vq_train.py / reconstruction_vq_ddp.py construct it."""
    v = VARIANTS[variant]
    torch.manual_seed(seed)
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        model = off.vq_model.VQ_models["TokenFlow"](
            codebook_size=TINY["codebook_size"], codebook_embed_dim=TINY["codebook_embed_dim"],
            semantic_code_dim=TINY["semantic_code_dim"], commit_loss_beta=TRAIN["commit_loss_beta"],
            entropy_loss_ratio=TRAIN["entropy_loss_ratio"], dropout_p=TRAIN["dropout_p"], kmeans=TRAIN["kmeans"],
            teacher=v["teacher"], enhanced_decoder=v["enhanced_decoder"], infer_interpolate=v["infer_interpolate"],
            z_channels=TINY["z_channels"])
    # decoder_out_dim is a literal inside __init__ (512 for CLIP, 1152 for SigLIP): only the last Linear
    # of decode_task_layer depends on it.
    last = model.decode_task_layer[2]
    model.decode_task_layer[2] = nn.Linear(last.in_features, v["semantic_out_dim"])
    model._init_weights(model.decode_task_layer[2])
    model.decoder_out_dim = v["semantic_out_dim"]
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(TINY["perturb_1d_std"] * torch.randn_like(p))
    return model


def load_checkpoint_weights(path):
    # reconstruction_vq_ddp.py: "ema" first, then "model", then "state_dict".
    checkpoint = torch.load(path, map_location="cpu")
    for key in ("ema", "model", "state_dict"):
        if key in checkpoint:
            return checkpoint[key]
    raise KeyError(f"{path}: no ema/model/state_dict")


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------

def load_photo(path):
    from PIL import Image
    if path:
        return Image.open(path).convert("RGB")
    try:
        import skimage.data  # the shared fixtures' image 0 is astronaut() (apt: python3-skimage)
        return Image.fromarray(skimage.data.astronaut())
    except ImportError:
        pass
    print("note: no --photo and no skimage; using a synthetic 512x512 picture as image 0", file=sys.stderr)
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[0:512, 0:512] / 511.0
    img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.8 - 0.6 * xx * yy], -1)
    for _ in range(6):
        cy, cx, r = rng.uniform(60, 450), rng.uniform(60, 450), rng.uniform(30, 110)
        img[(yy * 511 - cy) ** 2 + (xx * 511 - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
    img[:, ::16] *= 0.7
    img += rng.normal(0, 0.02, img.shape)
    return Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8))


def make_input(off, variant, seed, photo):
    """Image 0: the photograph through the official eval transform; the others: smooth noise."""
    from torchvision import transforms
    v = VARIANTS[variant]
    size = v["image_size"]
    transform = transforms.Compose([  # reconstruction_vq_ddp.py
        transforms.Lambda(lambda pil_image: off.center_crop_arr(pil_image, size)),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], inplace=True)])
    images = [transform(photo)]
    generator = torch.Generator().manual_seed(seed)
    for _ in range(v["batch"] - 1):
        coarse = torch.rand(1, 3, 12, 12, generator=generator) * 2 - 1
        images.append(F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0].clamp(-1, 1))
    return torch.stack(images).contiguous()


# --------------------------------------------------------------------------------------------------
# Running the official code
# --------------------------------------------------------------------------------------------------

def tokenizer_outputs(off, variant, checkpoint_path, x, seed):
    """reconstruction_vq_ddp.py's path: build, eval(), load the checkpoint, encode, decode; plus
    decode_code(indices) and the two pre-quantization feature maps (captured by forward hooks)."""
    model = build_tokenizer(off, variant, seed)
    model.eval()
    model.load_state_dict(load_checkpoint_weights(checkpoint_path))
    captured = {}
    hooks = [model.encode_task_layer.register_forward_hook(lambda m, i, o: captured.__setitem__("sem", o)),
             model.quant_conv.register_forward_hook(lambda m, i, o: captured.__setitem__("pix", o))]
    try:
        with torch.no_grad():
            quant, _, indices = model.encode(x)
            sem_recon, recon = model.decode(quant)
            _, recon_from_codes = model.decode_code(indices)
    finally:
        for hook in hooks:
            hook.remove()
    sem = captured["sem"]  # B x (h w) x 32, before encode()'s rearrange to B x 32 x h x w
    side = math.isqrt(sem.shape[1])
    sem = sem.transpose(1, 2).reshape(sem.shape[0], sem.shape[2], side, side)
    outputs = OrderedDict(sem_features=sem, pix_features=captured["pix"], indices=indices, quant=quant,
                          recon=recon, sem_recon=sem_recon, recon_from_codes=recon_from_codes)
    return model, OrderedDict((k, np.ascontiguousarray(t.detach().cpu().numpy())) for k, t in outputs.items())


def build_vq_loss(off):
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        vq_loss = off.vq_loss.VQLoss(
            disc_start=TRAIN["disc_start"], disc_weight=TRAIN["disc_weight"], disc_type=TRAIN["disc_type"],
            disc_loss=TRAIN["disc_loss"], gen_adv_loss=TRAIN["gen_loss"], image_size=VARIANTS["clipb224"]["image_size"],
            perceptual_weight=TRAIN["perceptual_weight"], reconstruction_weight=TRAIN["reconstruction_weight"],
            reconstruction_loss=TRAIN["reconstruction_loss"], codebook_weight=TRAIN["codebook_weight"],
            teacher=VARIANTS["clipb224"]["teacher"])
    # The fixture stores LPIPS in float16 and computes in float32, so the module must hold fp16-exact values.
    with torch.no_grad():
        for t in vq_loss.perceptual_loss.state_dict().values():
            t.copy_(t.half().float())
    return vq_loss


def train_step(off, model_state, x, seed, stored=None):
    """One iteration of vq_train.py's loop (generator update, then the discriminator loss), on CPU in
    float32, without DDP/autocast/GradScaler (all no-ops here). `stored` supplies teacher, LPIPS and
    discriminator state dicts (--weights-from); otherwise they are VQLoss's own random ones."""
    vq_model = build_tokenizer(off, "clipb224", seed)
    vq_model.load_state_dict(model_state)
    # The quantizer registers `codebook_used` as a buffer holding an nn.Parameter and updates it in place
    # in training. vq_train.py's .to(cuda) turns it into a plain (non-leaf) copy first; on CPU .to() is a
    # no-op and the in-place write into a leaf that requires grad raises. A detached copy has the same values.
    vq_model.quantize.codebook_used = vq_model.quantize.codebook_used.detach().clone()
    torch.manual_seed(seed + 1)
    vq_loss = build_vq_loss(off)
    if stored:
        vq_loss.teacher_model.load_state_dict(stored["teacher"])
        vq_loss.perceptual_loss.load_state_dict({k: v.float() for k, v in stored["lpips"].items()})
        vq_loss.discriminator.load_state_dict(stored["discriminator"])
    saved = dict(teacher=OrderedDict((k, v.clone()) for k, v in vq_loss.teacher_model.state_dict().items()),
                 lpips={k: v.half() for k, v in vq_loss.perceptual_loss.state_dict().items()})

    optimizer = torch.optim.Adam(vq_model.parameters(), lr=TRAIN["lr"], betas=(TRAIN["beta1"], TRAIN["beta2"]))
    vq_model.train()
    vq_model.random_scale_drop = False  # the fixture is deterministic; the trainer must still implement it
    vq_loss.train()
    # vq_train.py's vq_loss.train() also switches LPIPS (which VQLoss put in eval) back to training
    # mode, which turns on its Dropout(0.5) in front of every 1x1 head: random, so not in a fixture.
    vq_loss.perceptual_loss.eval()
    logger = logging.getLogger("make_fixtures")
    step = TRAIN["global_step"]

    optimizer.zero_grad()
    recons_imgs, codebook_loss = vq_model(x)
    loss_gen, loss_dict_gen = vq_loss(codebook_loss, x, recons_imgs, optimizer_idx=0, global_step=step,
                                      last_layer=vq_model.decoder.last_layer, logger=logger,
                                      log_every=TRAIN["log_every"])
    loss_gen.backward()
    params = dict(vq_model.named_parameters())
    grads = OrderedDict((name, params[name].grad.detach().clone()) for name in GRAD_PARAMS)
    grad_norm = torch.nn.utils.clip_grad_norm_(vq_model.parameters(), TRAIN["max_grad_norm"])
    optimizer.step()
    after = OrderedDict((name, params[name].detach().clone()) for name in GRAD_PARAMS)

    with torch.no_grad():
        loss_disc, loss_dict_disc = vq_loss(codebook_loss, x, recons_imgs, optimizer_idx=1, global_step=step,
                                            logger=logger, log_every=TRAIN["log_every"])
    # Saved after its three train-mode forwards (BatchNorm running statistics moved, num_batches_tracked
    # 3) and before any discriminator update: these are the weights that produced the logits.
    saved["discriminator"] = OrderedDict((k, v.clone()) for k, v in vq_loss.discriminator.state_dict().items())

    expected = OrderedDict()
    expected["generator"] = OrderedDict((k, float(v)) for k, v in loss_dict_gen.items())
    expected["generator_total"] = float(loss_gen)
    expected["discriminator"] = OrderedDict(
        discriminator_adv_loss=float(loss_dict_disc["discriminator_adv_loss"]),
        logits_real=[float(v) for v in loss_dict_disc["logits_real"].flatten()],
        logits_fake=[float(v) for v in loss_dict_disc["logits_fake"].flatten()],
        disc_weight=float(loss_dict_disc["disc_weight"]))
    expected["discriminator_total"] = float(loss_disc)
    expected["grad_global_norm_before_clip"] = float(grad_norm)
    expected["settings"] = OrderedDict(
        commit_loss_beta=TRAIN["commit_loss_beta"], disc_weight=TRAIN["disc_weight"], disc_start=TRAIN["disc_start"],
        global_step=step, perceptual_weight=TRAIN["perceptual_weight"], reconstruction=TRAIN["reconstruction_loss"],
        adam_lr=TRAIN["lr"], adam_betas=[TRAIN["beta1"], TRAIN["beta2"]], max_grad_norm=TRAIN["max_grad_norm"],
        random_scale_drop=False, discriminator_mode="train (batch statistics)")
    arrays = OrderedDict(recon=recons_imgs[1].detach().numpy())
    arrays.update((f"grad.{k}", v.numpy()) for k, v in grads.items())
    arrays.update((f"after_step.{k}", v.numpy()) for k, v in after.items())
    return expected, OrderedDict((k, np.ascontiguousarray(v)) for k, v in arrays.items()), saved


# --------------------------------------------------------------------------------------------------
# Writing fixtures
# --------------------------------------------------------------------------------------------------

def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def tokenizer_checkpoint(variant, state):
    """The checkpoint dict as each shared fixture holds it (keys and their order)."""
    if variant == "clipb224":
        # A subset of vq_train.py's argparse.Namespace: loaders must skip it (and unpickle it safely).
        args = argparse.Namespace(vq_model="TokenFlow", teacher="clipb_224", image_size=224,
                                  codebook_size=TINY["codebook_size"], lr=TRAIN["lr"], epochs=100,
                                  mixed_precision="bf16")
        return OrderedDict(model=state, steps=0, args=args)
    if variant == "clipb256e":
        # Loaders must prefer "ema"; the decoy "model" differs in one tensor so that a wrong pick shows.
        decoy = OrderedDict((k, v.clone()) for k, v in state.items())
        decoy["decoder.conv_out.bias"] += 0.5
        return OrderedDict(ema=state, steps=0, model=decoy)
    return OrderedDict(model=state, steps=0)


def write_arrays(folder, arrays):
    for name, array in arrays.items():
        np.save(os.path.join(folder, f"{name}.npy"), array)


def make_tokenizer_folder(off, variant, out, seed, photo):
    folder = os.path.join(out, variant)
    os.makedirs(folder, exist_ok=True)
    v = VARIANTS[variant]
    model = build_tokenizer(off, variant, seed)
    state = OrderedDict((k, t.detach().clone()) for k, t in model.state_dict().items())
    checkpoint_path = os.path.join(folder, "model.pt")
    torch.save(tokenizer_checkpoint(variant, state), checkpoint_path)

    x = make_input(off, variant, seed, photo)
    np.save(os.path.join(folder, "input.npy"), x.numpy())
    model, outputs = tokenizer_outputs(off, variant, checkpoint_path, x, seed)  # reloads model.pt
    write_arrays(folder, outputs)
    scales = list(model.scale_rq_layers)
    write_json(os.path.join(folder, "config.json"), OrderedDict(
        variant=variant, teacher=v["teacher"], image_size=v["image_size"], scales=scales,
        enhanced_decoder=v["enhanced_decoder"], infer_interpolate=v["infer_interpolate"],
        codebook_size=TINY["codebook_size"], checkpoint_key=v["checkpoint_key"], batch=v["batch"], seed=seed,
        tiny=True, tokens_per_image=sum(s * s for s in scales)))
    print(f"{variant}: wrote {folder} (indices {outputs['indices'].shape}, "
          f"{len(np.unique(outputs['indices']))} distinct codes)")


def make_train_step_folder(off, out, seed, photo):
    folder = os.path.join(out, "train_step")
    os.makedirs(folder, exist_ok=True)
    # The clipb224 tokenizer and input, rebuilt from the same seed (so identical to out/clipb224).
    state = OrderedDict((k, t.detach().clone()) for k, t in build_tokenizer(off, "clipb224", seed).state_dict().items())
    x = make_input(off, "clipb224", seed, photo)
    torch.save(OrderedDict(model=state, steps=0), os.path.join(folder, "model.pt"))
    np.save(os.path.join(folder, "input.npy"), x.numpy())
    expected, arrays, saved = train_step(off, state, x, seed)
    torch.save(saved["teacher"], os.path.join(folder, "teacher_clip.pt"))
    torch.save(saved["lpips"], os.path.join(folder, "lpips_vgg16.pt"))
    torch.save(saved["discriminator"], os.path.join(folder, "discriminator.pt"))
    write_arrays(folder, arrays)
    write_json(os.path.join(folder, "expected.json"), expected)
    g = expected["generator"]
    print(f"train_step: wrote {folder} (generator_total {expected['generator_total']:.6f}, "
          f"vqkd {g['vqkd_loss']:.6f}, grad norm {expected['grad_global_norm_before_clip']:.4f})")


# --------------------------------------------------------------------------------------------------
# --weights-from: the official outputs for another fixture tree's weights and inputs
# --------------------------------------------------------------------------------------------------

def recompute_tokenizer_folder(off, variant, ref_dir, out, seed):
    """Run the official code on REF/variant's model.pt and input.npy; write the outputs (and a copy
    of the input, so that the folder is complete for compare.py)."""
    src, folder = os.path.join(ref_dir, variant), os.path.join(out, variant)
    os.makedirs(folder, exist_ok=True)
    x = np.load(os.path.join(src, "input.npy"))
    np.save(os.path.join(folder, "input.npy"), x)
    # build_tokenizer's random weights are all replaced by the checkpoint's (load_state_dict is strict).
    _, outputs = tokenizer_outputs(off, variant, os.path.join(src, "model.pt"), torch.from_numpy(x), seed)
    write_arrays(folder, outputs)
    print(f"{variant}: wrote {folder} from the weights and input of {src}")


def recompute_train_step_folder(off, ref_dir, out, seed):
    """The official train step from REF/train_step's tokenizer, teacher, LPIPS, discriminator and input."""
    src, folder = os.path.join(ref_dir, "train_step"), os.path.join(out, "train_step")
    os.makedirs(folder, exist_ok=True)
    load = lambda name: torch.load(os.path.join(src, name), map_location="cpu")  # noqa: E731
    stored = dict(teacher=load("teacher_clip.pt"), lpips=load("lpips_vgg16.pt"), discriminator=load("discriminator.pt"))
    x = np.load(os.path.join(src, "input.npy"))
    np.save(os.path.join(folder, "input.npy"), x)
    expected, arrays, _ = train_step(off, load("model.pt")["model"], torch.from_numpy(x), seed, stored=stored)
    write_arrays(folder, arrays)
    write_json(os.path.join(folder, "expected.json"), expected)
    print(f"train_step: wrote {folder} from the weights and input of {src}")


# --------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write the fixture tree into (created)")
    parser.add_argument("--weights-from", metavar="REF",
                        help="take weights and inputs from the fixture tree REF instead of making random ones, "
                             "and write only what the official code computes from them")
    parser.add_argument("--folders", nargs="+", choices=ALL_FOLDERS, default=list(ALL_FOLDERS),
                        help="which fixture folders (default: all four)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photo", help="image 0 of every input (default: skimage.data.astronaut())")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1; other counts move floats by ~1e-7)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    off = load_official()
    print(f"official code: {off.root}; torch {torch.__version__}, numpy {np.__version__}, "
          f"{torch.get_num_threads()} thread(s)")

    os.makedirs(args.out, exist_ok=True)
    if args.weights_from:
        for folder in args.folders:
            if folder == "train_step":
                recompute_train_step_folder(off, args.weights_from, args.out, args.seed)
            else:
                recompute_tokenizer_folder(off, folder, args.weights_from, args.out, args.seed)
        return 0

    photo = load_photo(args.photo)
    for folder in args.folders:
        if folder == "train_step":
            make_train_step_folder(off, args.out, args.seed, photo)
        else:
            make_tokenizer_folder(off, folder, args.out, args.seed, photo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
