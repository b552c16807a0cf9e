"""Finding and loading ESM-1v checkpoints through fair-esm's own loader.

A model is named like the real ones (``esm1v_t33_650M_UR90S_1`` .. ``_5``). It is loaded from
``<model_dir>/<name>.pt`` when that file exists, otherwise downloaded by fair-esm into torch hub's
cache (never when ``offline`` is set). Both paths end in fair-esm's ``load_model_and_alphabet_*``:
tests, tiny checkpoints and real weights share every line of it.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from esm1v_scan.errors import InputError
from esm1v_scan.files import sha256_file, write_text

if TYPE_CHECKING:  # torch is imported where a model is loaded: parsing the workflow needs no torch
    import torch

#: The five ESM-1v models (same architecture, five training seeds).
ESM1V_MODELS = tuple(f"esm1v_t33_650M_UR90S_{k}" for k in range(1, 6))


#: Key in a checkpoint's ``args`` that marks random weights (written by :mod:`esm1v_scan.scoring.tiny_models`).
RANDOM_MARK = "esm1v_scan_random_weights"
#: The shape of the published ESM-1v models: 33 layers of width 1280.
ESM1V_SHAPE = (33, 1280)


def is_published_esm1v(args) -> bool:
    """Whether a checkpoint can be the published ESM-1v weights, from its ``args`` (the
    checkpoint's Namespace, ``encoder_*`` names, or a loaded model's ``model.args``): False when
    :data:`RANDOM_MARK` is set or the shape is not 33 layers x 1280."""
    a = dict(vars(args)) if not isinstance(args, dict) else args
    if a.get(RANDOM_MARK):
        return False
    layers = a.get("encoder_layers", a.get("layers"))
    width = a.get("encoder_embed_dim", a.get("embed_dim"))
    return (layers, width) == ESM1V_SHAPE


def check_model_name(name: str) -> None:
    if name not in ESM1V_MODELS:
        raise InputError(
            f"unknown model '{name}'; esm1v-scan scores with the ESM-1v models: "
            + ", ".join(ESM1V_MODELS)
        )


def checkpoint_path(name: str, model_dir: str | os.PathLike | None) -> Path | None:
    """``<model_dir>/<name>.pt`` if it exists, else None."""
    if not model_dir:
        return None
    path = Path(model_dir) / f"{name}.pt"
    return path if path.exists() else None


def resolve_checkpoint(name: str, model_dir, offline: bool) -> Path | None:
    """The local file to load, or None for a download by name. Raises InputError when offline
    and the file is missing."""
    check_model_name(name)
    path = checkpoint_path(name, model_dir)
    if path is None and offline:
        where = Path(model_dir) / f"{name}.pt" if model_dir else "<model_dir not set>"
        raise InputError(
            f"model '{name}': no checkpoint at {where} and offline mode is on; "
            "put the weights there (or set offline: false to let fair-esm download them)"
        )
    return path


def _stamp(st: os.stat_result) -> dict:
    """What identifies one version of a file without reading it. Size and mtime alone can be
    copied (cp -p, rsync -t); the ctime (set by the kernel on every write, rename or chmod, never
    by a copy tool) and the inode cannot, so a replaced checkpoint is hashed again."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
            "inode": st.st_ino, "device": st.st_dev}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, remembered in ``<file>.sha256.json`` keyed by its :func:`_stamp` so a
    2.6 GB checkpoint is hashed once, not by every job."""
    path = Path(path)
    st = path.stat()
    memo = path.with_name(path.name + ".sha256.json")
    try:
        saved = json.loads(memo.read_text())
        if saved["stamp"] == _stamp(st):
            return saved["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return remember_sha256(path, sha256_file(path), st)


def remember_sha256(path: str | os.PathLike, digest: str, st: os.stat_result | None = None) -> str:
    """Save ``digest`` as the memo of :func:`file_sha256` (for a file just hashed elsewhere)."""
    path = Path(path)
    st = st or path.stat()
    memo = path.with_name(path.name + ".sha256.json")
    try:
        write_text(memo, json.dumps({"stamp": _stamp(st), "sha256": digest}))
    except OSError:  # read-only model folder: fine, we just hash again next time
        pass
    return digest


@dataclass
class LoadedModel:
    name: str
    model: torch.nn.Module
    alphabet: object
    source: str  # file path or "fair-esm hub"
    identity: str  # "sha256:<checkpoint digest>" or "hub:<name>": what the score cache keys on

    @property
    def published(self) -> bool:
        """False for random (tiny) weights or a shape that is not ESM-1v's."""
        return is_published_esm1v(self.model.args)

    @property
    def max_residues(self) -> int:
        return int(self.model.args.max_positions) - 2


def first_sentence(text: str, limit: int = 200) -> str:
    """The first sentence of an error message, whole words only (torch's run on for lines)."""
    line = (text.strip().splitlines() or [""])[0]
    line = line.split(". ")[0].rstrip(".")
    if len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0] + " ..."
    return line


def load_model(name: str, model_dir=None, offline: bool = False) -> LoadedModel:
    """Load one ESM-1v model (eval mode, CPU) the way fair-esm does, with the torch >= 2.6 fix.

    ESM-1v checkpoints pickle an ``argparse.Namespace``; torch >= 2.6 loads with
    ``weights_only=True`` and refuses it ("Unsupported global: argparse.Namespace"). We allow exactly
    that class for the duration of the load (files the user chose to put in model_dir, or fair-esm's
    own download), instead of turning weights_only off.
    """
    import esm  # fair-esm
    import torch

    path = resolve_checkpoint(name, model_dir, offline)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
            # ESM-1v has no contact regression; fair-esm warns about it on every load
            warnings.filterwarnings("ignore", message="Regression weights not found")
            if path is not None:
                model, alphabet = esm.pretrained.load_model_and_alphabet_local(str(path))
            else:
                model, alphabet = esm.pretrained.load_model_and_alphabet_hub(name)
    except Exception as err:  # noqa: BLE001 - every failure here is about the file or the download
        first_line = first_sentence(str(err))
        if path is not None:
            raise InputError(
                f"model '{name}': cannot read checkpoint {path}: it is corrupt, truncated or not an "
                f"ESM-1v checkpoint ({type(err).__name__}: {first_line})"
            ) from err
        raise InputError(
            f"model '{name}': fair-esm could not download it ({type(err).__name__}: {first_line}); "
            f"without network, put the checkpoint in model_dir as {name}.pt and set offline: true"
        ) from err
    model.eval()
    if path is not None:
        return LoadedModel(name, model, alphabet, str(path), f"sha256:{file_sha256(path)}")
    return LoadedModel(name, model, alphabet, "fair-esm hub", f"hub:{name}")
