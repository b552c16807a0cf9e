"""Residue numbering: one number for residue 1 of each protein (config ``offsets``, or its variant
list's ``offset``), resolved once when the config is read; residue = position + offset - 1."""

from __future__ import annotations

import numpy as np

from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein, check_known_id


def offsets_from_config(value, proteins: list[Protein], fasta_path: str = "the FASTA file") -> dict[str, int]:
    """Config ``offsets`` (FASTA id -> first residue number) checked against the FASTA ids."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise InputError("offsets: give a mapping from FASTA id to the first residue's number",
                         "config 'offsets'")
    ids = dict.fromkeys(p.id for p in proteins)
    out = {}
    for seq_id, offset in value.items():
        seq_id = str(seq_id)
        check_known_id(seq_id, ids, "offset", "config 'offsets'", fasta_path)
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise InputError(f"offset for '{seq_id}' must be an integer, got {offset!r}",
                             "config 'offsets'")
        out[seq_id] = int(offset)
    return out


def numbering(offsets: dict[str, int], specs: dict) -> dict[str, int]:
    """The run's one numbering: FASTA id -> residue number of its first residue, used by every
    table and figure (non-default entries only; others are numbered from 1). A protein's entry in
    config ``offsets`` (checked, :func:`offsets_from_config`), else the offset of its variant list
    (``specs``: id -> :class:`esm1v_scan.inputs.variant_lists.VariantSpec`, from
    :func:`esm1v_scan.inputs.variant_lists.specs_from_config` with the same ``offsets``, which refuses a list
    whose offset differs from the protein's entry), so a list numbered from 24 numbers its
    protein's tables from 24 too."""
    out = dict(offsets)
    for seq_id, spec in specs.items():
        if seq_id not in out and int(spec.offset) != 1:
            out[seq_id] = int(spec.offset)
    return out


def offset_for(offsets: dict | None, seq_id: str) -> int:
    """The residue number of the first residue of sequence ``seq_id`` (1 unless configured)."""
    return int((offsets or {}).get(seq_id, 1))
