"""Tiny ESM-1v checkpoints with RANDOM weights, in the real ESM-1v (v1, roberta_large) file format.

For tests and offline smoke runs only: their scores are meaningless. Each file is marked
(``args.esm1v_scan_random_weights = True``, and a ``note``), so provenance and figures say
"random weights - not ESM-1v" (:func:`esm1v_scan.scoring.models.is_published_esm1v`). The files are what the real
``esm1v_t33_650M_UR90S_K.pt`` are (a dict with ``args`` as an ``argparse.Namespace`` and ``model``
with ``encoder.sentence_encoder.*`` / ``encoder.lm_head.*`` keys), just with few layers and a
narrow width, and they go through the same loader (:func:`esm1v_scan.scoring.models.load_model`).

    python -m esm1v_scan.scoring.tiny_models --out resources/tiny_models            # five files, seeds 1..5
    python -m esm1v_scan.scoring.tiny_models --out DIR --layers 33 --embed-dim 1280  # the real architecture
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import torch

from esm1v_scan.files import write_bytes
from esm1v_scan.scoring.models import ESM1V_MODELS, RANDOM_MARK


def tiny_args(layers: int = 2, embed_dim: int = 32, heads: int = 4, ffn_dim: int | None = None):
    """The ``args`` Namespace of an ESM-1v checkpoint, with the real field names."""
    return argparse.Namespace(
        arch="roberta_large",
        encoder_layers=layers,
        encoder_embed_dim=embed_dim,
        encoder_ffn_embed_dim=ffn_dim or 4 * embed_dim,
        encoder_attention_heads=heads,
        max_positions=1024,
        token_dropout=True,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        final_bias=True,
        **{RANDOM_MARK: True},  # kept by fair-esm's loader in model.args: see is_published_esm1v
    )


def make_checkpoint(seed: int, **arch) -> dict:
    """A random-weight model, saved in the layout of the real ESM-1v checkpoints."""
    import esm

    args = tiny_args(**arch)
    alphabet = esm.Alphabet.from_architecture("roberta_large")
    model_args = {k.replace("encoder_", ""): v for k, v in vars(args).items()}
    torch.manual_seed(seed)
    model = esm.ProteinBertModel(argparse.Namespace(**model_args), alphabet)
    with torch.no_grad():  # default init is tiny for the output head; make logits vary visibly
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.5 / p.shape[-1] ** 0.5 * 4)
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("contact_head."):
            continue  # ESM-1v checkpoints carry no contact regression
        prefix = "encoder." if key.startswith("lm_head.") else "encoder.sentence_encoder."
        state[prefix + key] = value.clone()
    return {"args": args, "model": state, "note": "RANDOM weights written by esm1v_scan.scoring.tiny_models - not ESM-1v"}


def checkpoint_bytes(seed: int, **arch) -> bytes:
    """The bytes of one tiny checkpoint: the same seed and architecture always give the same bytes
    (saved through a buffer: ``torch.save`` to a file name records that name in the archive)."""
    buf = io.BytesIO()
    torch.save(make_checkpoint(seed, **arch), buf)
    return buf.getvalue()


def write_tiny_models(out_dir, names=ESM1V_MODELS, **arch) -> list[Path]:
    """Write ``<name>.pt`` for each name (seeds 1, 2, ...) into ``out_dir``. A file that already
    holds exactly those bytes is left alone, its mtime kept (so a second ``make smoke`` reruns
    nothing); a missing or different one is written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed, name in enumerate(names, start=1):
        path = out / f"{name}.pt"
        data = checkpoint_bytes(seed, **arch)
        if not _holds(path, data):
            write_bytes(path, data)
        paths.append(path)
    return paths


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a file with exactly ``data`` in it."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:  # missing, or not readable: write it
        return False


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m esm1v_scan.scoring.tiny_models",
        description="Write tiny RANDOM-weight checkpoints named like the five ESM-1v models "
        "(for tests and offline smoke runs; their scores mean nothing).",
    )
    ap.add_argument("--out", required=True, help="folder to write <model>.pt into")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embed-dim", type=int, default=32)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--models", nargs="+", default=list(ESM1V_MODELS))
    a = ap.parse_args(argv)
    for p in write_tiny_models(a.out, a.models, layers=a.layers, embed_dim=a.embed_dim, heads=a.heads):
        print(p)


if __name__ == "__main__":
    main()
