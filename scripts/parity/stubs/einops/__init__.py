"""Stand-in for einops (not packaged by Debian 12): `rearrange` and `repeat` on torch tensors.

The official tokenizer uses only plain axis names, parenthesised groups, `()` / `1` for unit axes and
keyword sizes, e.g. 'b (h w) c -> b c h w' (vq_model.py) or 'n -> n d' (norm_ema_quantizer.py). That
subset is implemented exactly (reshape to elementary axes, permute, expand new axes, reshape to the
output groups, which is what einops does); anything else (ellipsis, reductions, numpy input) raises
instead of guessing.
"""

import math
import re

__version__ = "0.8.0-parity-stub"

_TOKEN = re.compile(r"\.\.\.|\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+|\S")


def _parse(side):
    """One side of a pattern -> list of groups, each a list of axis names ([] is a unit axis)."""
    groups, current = [], None
    for token in _TOKEN.findall(side):
        if token == "(":
            if current is not None:
                raise ValueError(f"einops stub: nested parentheses in {side!r}")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"einops stub: unbalanced ')' in {side!r}")
            groups.append(current)
            current = None
        elif token == "1" or token.isidentifier():
            names = [] if token == "1" else [token]
            if current is None:
                groups.append(names)
            else:
                current.extend(names)
        else:
            raise NotImplementedError(f"einops stub: token {token!r} in {side!r} is not supported")
    if current is not None:
        raise ValueError(f"einops stub: unbalanced '(' in {side!r}")
    return groups


def _transform(tensor, pattern, axes_lengths, allow_new_axes):
    if "->" not in pattern:
        raise ValueError(f"einops stub: pattern {pattern!r} has no '->'")
    left_text, right_text = pattern.split("->")
    left, right = _parse(left_text), _parse(right_text)
    if len(left) != tensor.dim():
        raise ValueError(f"einops stub: {pattern!r} expects {len(left)} dims, tensor has {tensor.dim()}")

    sizes = dict(axes_lengths)
    for group, dim in zip(left, tensor.shape):
        unknown = [name for name in group if name not in sizes]
        known = math.prod(sizes[name] for name in group if name in sizes)
        if len(unknown) > 1:
            raise ValueError(f"einops stub: cannot infer the sizes of {unknown} in {pattern!r}")
        if unknown:
            if known == 0 or dim % known:
                raise ValueError(f"einops stub: dim {dim} is not divisible by {known} in {pattern!r}")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(f"einops stub: dim {dim} does not match group {group} in {pattern!r}")

    left_axes = [name for group in left for name in group]
    right_axes = [name for group in right for name in group]
    if len(set(left_axes)) != len(left_axes) or len(set(right_axes)) != len(right_axes):
        raise ValueError(f"einops stub: repeated axis name in {pattern!r}")
    dropped = [name for name in left_axes if name not in right_axes]
    if dropped:
        raise NotImplementedError(f"einops stub: axes {dropped} vanish in {pattern!r} (a reduction)")
    new_axes = [name for name in right_axes if name not in left_axes]
    if new_axes and not allow_new_axes:
        raise ValueError(f"einops stub: rearrange cannot create axes {new_axes} ({pattern!r})")
    missing = [name for name in new_axes if name not in sizes]
    if missing:
        raise ValueError(f"einops stub: sizes of new axes {missing} not given for {pattern!r}")

    x = tensor.reshape([sizes[name] for name in left_axes])
    kept = [name for name in right_axes if name in left_axes]
    x = x.permute([left_axes.index(name) for name in kept])
    if new_axes:
        for position, name in enumerate(right_axes):
            if name in new_axes:
                x = x.unsqueeze(position)
        x = x.expand([sizes[name] for name in right_axes])
    return x.reshape([math.prod(sizes[name] for name in group) for group in right])


def rearrange(tensor, pattern, **axes_lengths):
    return _transform(tensor, pattern, axes_lengths, allow_new_axes=False)


def repeat(tensor, pattern, **axes_lengths):
    return _transform(tensor, pattern, axes_lengths, allow_new_axes=True)
