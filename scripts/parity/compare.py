#!/usr/bin/env python3
"""Compare a fixture tree (e.g. from make_fixtures.py --weights-from) with a reference tree, using the
tolerances of the fixtures' README.md (../shared/parity beside the checkout, as the tests find them).

    python3 scripts/parity/compare.py GENERATED [REFERENCE]    (REFERENCE: ../shared/parity)

Prints one line per tensor or value: name, difference, limit, ok / FAIL; exits 1 on any FAIL. Needs
only numpy. Folders compared: those of clipb224, clipb256e, siglip384, train_step that GENERATED has
(or --folders).
"""

import argparse
import json
import os
import sys

import numpy as np

DEFAULT_REFERENCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                                 "shared", "parity"))
TOKENIZER_FOLDERS = ("clipb224", "clipb256e", "siglip384")
ALL_FOLDERS = TOKENIZER_FOLDERS + ("train_step",)

# name -> max |diff| allowed (README); input.npy must be the same file for the outputs to be comparable.
TOKENIZER_LIMITS = dict(input=0.0, sem_features=1e-4, pix_features=1e-4, quant=1e-4, recon=1e-3,
                        sem_recon=1e-3, recon_from_codes=1e-3)
# The README gives no limit for train_step/recon.npy (the train-mode reconstruction); it is the same
# decoder output as the tokenizer folders' recon, so it gets theirs.
TRAIN_RECON_LIMIT = 1e-3
LOSS_REL = 1e-4
GRAD_REL = 1e-3
AFTER_STEP_ABS = 1e-6
# Official log values, not part of the loss: the README does not require them, so they cannot fail.
LOG_ONLY = ("codebook_usage", "d_vqkd", "d_vqgan")


class Report:
    def __init__(self):
        self.failures = 0

    def line(self, name, what, diff, limit, required=True):
        good = diff <= limit
        verdict = "ok" if good else ("FAIL" if required else "differs (not required)")
        self.failures += required and not good
        shown = f"{diff:10d}" if isinstance(diff, int) else f"{diff:10.3g}"
        print(f"{name:58s} {what:22s} {shown}  limit {limit:<8g} {verdict}")

    def fail(self, name, why):
        self.failures += 1
        print(f"{name:58s} FAIL: {why}")


def load_pair(report, name, generated, reference):
    if not os.path.isfile(generated):
        report.fail(name, f"missing {generated}")
        return None, None
    a, b = np.load(generated), np.load(reference)
    if a.shape != b.shape or a.dtype != b.dtype:
        report.fail(name, f"{a.shape} {a.dtype} against the reference's {b.shape} {b.dtype}")
        return None, None
    return a.astype(np.float64), b.astype(np.float64)


def max_abs(a, b):
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def compare_tokenizer(report, folder, gen_dir, ref_dir):
    for name, limit in TOKENIZER_LIMITS.items():
        a, b = load_pair(report, f"{folder}/{name}", os.path.join(gen_dir, f"{name}.npy"),
                         os.path.join(ref_dir, f"{name}.npy"))
        if a is not None:
            report.line(f"{folder}/{name}", "max |diff|", max_abs(a, b), limit)
    a, b = load_pair(report, f"{folder}/indices", os.path.join(gen_dir, "indices.npy"),
                     os.path.join(ref_dir, "indices.npy"))
    if a is not None:
        report.line(f"{folder}/indices", f"differing of {b.size}", int(np.sum(a != b)), 0)


def relative(a, b):
    # A reference of exactly 0 (entropy_loss with ratio 0) has no relative scale: the difference itself.
    return abs(a - b) / abs(b) if b else abs(a - b)


def compare_after_step(report, label, a, b, gen_dir, ref_dir, param):
    """Adam's first step moves a weight by about lr * sign(gradient): where the gradient is mostly float32
    rounding (it differs from the reference's by more than 1%) the weight moves by anything up to lr either
    way in any two float32 runs. Those weights are held to 2 lr, the others to the README's 1e-6."""
    grad_gen = np.load(os.path.join(gen_dir, f"grad.{param}.npy"))
    grad_ref = np.load(os.path.join(ref_dir, f"grad.{param}.npy"))
    with open(os.path.join(ref_dir, "expected.json")) as f:
        lr = json.load(f)["settings"]["adam_lr"]
    determined = np.abs(grad_gen - grad_ref) <= 0.01 * np.abs(grad_ref)
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    report.line(label, "max |diff| where the gradient agrees", float(diff[determined].max(initial=0.0)), AFTER_STEP_ABS)
    report.line(label, f"max |diff| ({int((~determined).sum())} undetermined)", float(diff.max()), 2 * lr * (1 + 1e-3))


def compare_train_step(report, gen_dir, ref_dir):
    folder = "train_step"
    a, b = load_pair(report, f"{folder}/input", os.path.join(gen_dir, "input.npy"), os.path.join(ref_dir, "input.npy"))
    if a is not None:
        report.line(f"{folder}/input", "max |diff|", max_abs(a, b), 0.0)

    path = os.path.join(gen_dir, "expected.json")
    if not os.path.isfile(path):
        report.fail(f"{folder}/expected.json", f"missing {path}")
    else:
        with open(path) as f:
            got = json.load(f)
        with open(os.path.join(ref_dir, "expected.json")) as f:
            ref = json.load(f)
        for key, value in ref["generator"].items():
            report.line(f"{folder}/generator.{key}", "rel diff", relative(got["generator"][key], value), LOSS_REL,
                        required=key not in LOG_ONLY)
        report.line(f"{folder}/generator_total", "rel diff", relative(got["generator_total"], ref["generator_total"]),
                    LOSS_REL)
        for key in ("discriminator_adv_loss", "disc_weight"):
            report.line(f"{folder}/discriminator.{key}", "rel diff",
                        relative(got["discriminator"][key], ref["discriminator"][key]), LOSS_REL)
        report.line(f"{folder}/discriminator_total", "rel diff",
                    relative(got["discriminator_total"], ref["discriminator_total"]), LOSS_REL)
        for key in ("logits_real", "logits_fake"):
            x, y = np.array(got["discriminator"][key]), np.array(ref["discriminator"][key])
            if x.shape != y.shape:
                report.fail(f"{folder}/discriminator.{key}", f"{x.size} logits against {y.size}")
            else:
                report.line(f"{folder}/discriminator.{key}", "|diff| / |ref|",
                            float(np.linalg.norm(x - y) / np.linalg.norm(y)), LOSS_REL)
        report.line(f"{folder}/grad_global_norm_before_clip", "rel diff",
                    relative(got["grad_global_norm_before_clip"], ref["grad_global_norm_before_clip"]), GRAD_REL)
        if got["settings"] != ref["settings"]:
            report.fail(f"{folder}/settings", f"{got['settings']} against {ref['settings']}")

    names = sorted(f[:-4] for f in os.listdir(ref_dir) if f.endswith(".npy") and f != "input.npy")
    for name in names:
        a, b = load_pair(report, f"{folder}/{name}", os.path.join(gen_dir, f"{name}.npy"),
                         os.path.join(ref_dir, f"{name}.npy"))
        if a is None:
            continue
        if name.startswith("grad."):
            report.line(f"{folder}/{name}", "|diff| / |ref|", float(np.linalg.norm(a - b) / np.linalg.norm(b)),
                        GRAD_REL)
        elif name.startswith("after_step."):
            compare_after_step(report, f"{folder}/{name}", a, b, gen_dir, ref_dir, name[len("after_step."):])
        else:
            report.line(f"{folder}/{name}", "max |diff|", max_abs(a, b), TRAIN_RECON_LIMIT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("generated", help="fixture tree to check")
    parser.add_argument("reference", nargs="?", default=DEFAULT_REFERENCE, help="default: %(default)s")
    parser.add_argument("--folders", nargs="+", choices=ALL_FOLDERS,
                        help="default: those of the four that GENERATED has")
    args = parser.parse_args()
    folders = args.folders or [f for f in ALL_FOLDERS if os.path.isdir(os.path.join(args.generated, f))]
    if not folders:
        parser.error(f"{args.generated} has none of {', '.join(ALL_FOLDERS)}")

    report = Report()
    for folder in folders:
        gen_dir, ref_dir = os.path.join(args.generated, folder), os.path.join(args.reference, folder)
        if not os.path.isdir(gen_dir):
            report.fail(folder, f"missing {gen_dir}")
        elif folder == "train_step":
            compare_train_step(report, gen_dir, ref_dir)
        else:
            compare_tokenizer(report, folder, gen_dir, ref_dir)
    print(f"{report.failures} FAIL" if report.failures else "all within tolerance")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
