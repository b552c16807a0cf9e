"""Scores on a 3D structure, written out: the chain mapped by :mod:`esm1v_scan.inputs.structures` with
``mean_score`` as B-factors (structure.pdb/.cif), a ChimeraX attribute file (structure.defattr), a
PyMOL script (structure.pml) and the residue map (structure_map.tsv).

Every atom of a mapped residue gets that position's ``mean_score`` as B-factor; every other atom
(unobserved or unaligned residues, other chains, ligands, water) gets B-factor 0 and is left out of
the attribute file; the PyMOL script colours them grey. The structure file says so in its header
(:func:`header_text`: REMARK 6 lines in PDB, comments and ``_database_PDB_remark`` in mmCIF), with
the weights (ESM-1v or random), the models and esm1v-scan's version."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from Bio.PDB import MMCIFIO, PDBIO

from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.files import write_text
from esm1v_scan.inputs.structures import (
    MAP_COLUMNS,
    ChainMap,
    StructureSpec,
    _is_cif,
    _letter,
    map_structure,
    output_name,
    read_structure,
    residue_label,
)


ATTRIBUTE = "esm1v_mean_score"


def map_table(cm: ChainMap, sequence: str) -> pd.DataFrame:
    """structure_map.tsv: one row per sequence position (match: identical, mismatch, or missing
    when the chain lacks it), then the chain residues outside the alignment (match: unaligned)."""
    rows, extra = [], []
    for p, r in cm.pairs:
        if p is None:
            extra.append((pd.NA, cm.chain, r.id[1], r.id[2].strip(), r.get_resname(), "unaligned"))
        elif r is None:
            rows.append((p, pd.NA, pd.NA, "", "", "missing"))
        else:
            match = "identical" if _letter(r) == sequence[p - 1] else "mismatch"
            rows.append((p, cm.chain, r.id[1], r.id[2].strip(), r.get_resname(), match))
    df = pd.DataFrame(rows + extra, columns=MAP_COLUMNS)
    for col in ("position", "resnum"):
        df[col] = df[col].astype("Int64")
    return df


def _atoms(residue):
    """Every atom of a residue, alternate locations and point-mutation alternatives included."""
    residues = residue.disordered_get_list() if residue.is_disordered() == 2 else [residue]
    for res in residues:
        yield from res.get_unpacked_list()


def set_scores(structure, cm: ChainMap, scores: dict[int, float]) -> None:
    """B-factor = score of the mapped position on the chain; 0 for every other atom."""
    for atom in structure.get_atoms():
        for a in atom.disordered_get_list() if atom.is_disordered() else [atom]:
            a.set_bfactor(0.0)
    keys = {r.id: scores[p] for p, r in cm.mapped.items() if p in scores and np.isfinite(scores[p])}
    for model in structure:
        if cm.chain not in model:
            continue
        for res_id, value in keys.items():
            if res_id in model[cm.chain]:
                for atom in _atoms(model[cm.chain][res_id]):
                    atom.set_bfactor(float(value))


#: PDB REMARK number of the header lines (free text, as MODELLER uses REMARK 6 for its own)
REMARK = 6


def header_text(stamp: str = "", models=()) -> list[str]:
    """What the B-factors of structure.pdb/.cif are, as paragraphs: the score, the weights
    (``stamp``: the random-weights stamp, or "" for ESM-1v), the ``models`` averaged and
    esm1v-scan's version."""
    from esm1v_scan import __version__

    models = sorted(set(models))
    over = f"{len(models)} models" if models else "the models"
    out = [f"{stamp.upper()}: these scores come from checkpoints that are not ESM-1v's"] if stamp else []
    out += [
        "B-factors: esm1v-scan's mean_score of each residue, the mean over the 19 substitutions of "
        f"score_mean, the ensemble score (the mean over {over} of log p(mutant) - log p(wild type), "
        "natural log; negative: less likely than the wild type).",
        f"Weights: {stamp or 'ESM-1v'}.",
    ]
    if models:
        out.append(f"Models: {', '.join(models)}.")
    out += [
        "B-factor 0: residues mapped to no scored position (tags, unscored sites), other chains, "
        "ligands, water. Residues and positions: structure_map.tsv.",
        f"Written by esm1v-scan {__version__}; provenance: results/provenance/provenance.yaml.",
    ]
    return out


def write_structure(structure, path: str | Path, header=()) -> None:
    """PDB or mmCIF by the name; ``header``: paragraphs of free text written as REMARK 6 lines
    (PDB), or as comment lines and a ``_database_PDB_remark`` item (mmCIF), before the atoms."""
    path = Path(path)
    cif = _is_cif(path)
    writer = MMCIFIO() if cif else PDBIO()
    writer.set_structure(structure)
    buffer = io.StringIO()
    writer.save(buffer)
    text = buffer.getvalue()
    if header:
        lines = [line for par in header for line in textwrap.wrap(
            par, 78 if cif else 69, break_long_words=False, break_on_hyphens=False)]
        if cif:  # after the data_ line: comments, then the same text as a remark item
            first, rest = text.split("\n", 1)
            comments = "".join(f"# {line}\n" for line in lines)
            item = (f"_database_PDB_remark.id {REMARK}\n_database_PDB_remark.text\n;"
                    + "\n".join(lines) + "\n;\n#\n")
            text = f"{first}\n{comments}#\n{item}{rest}"
        else:
            text = "".join(f"REMARK {REMARK:3d} {line}\n" for line in lines) + text
    write_text(path, text)


def _scored(cm: ChainMap, scores: dict[int, float]) -> list:
    return [(r, scores[p]) for p, r in cm.mapped.items() if p in scores and np.isfinite(scores[p])]


def _stamp_lines(stamp: str) -> list[str]:
    return [f"# {stamp.upper()}: these scores come from checkpoints that are not ESM-1v's"] if stamp else []


def defattr_text(cm: ChainMap, scores: dict[int, float], stamp: str = "") -> str:
    """ChimeraX attribute assignment file: residue attribute esm1v_mean_score."""
    lines = _stamp_lines(stamp) + [
             f"# ESM-1v mean score (mean of score_mean over the 19 substitutions), chain {cm.chain}",
             f"attribute: {ATTRIBUTE}", "match mode: 1-to-1", "recipient: residues"]
    lines += [f"\t/{cm.chain}:{residue_label(r)}\t{v:.6g}" for r, v in _scored(cm, scores)]
    return "\n".join(lines) + "\n"


def colour_limit(values) -> float:
    """Half-width of the colour scale: the largest |score|, at least 0.1."""
    values = np.asarray(list(values), dtype=float)
    return float(max(np.abs(values).max(initial=0.0), 0.1))


def pml_text(structure_file: str, cm: ChainMap, scores: dict[int, float], stamp: str = "") -> str:
    """PyMOL script: load the structure, scored residues red (low) - white (0) - blue (high)."""
    scored = _scored(cm, scores)
    lim = colour_limit(v for _, v in scored)
    labels = [residue_label(r).replace("-", "\\-") for r, _ in scored]  # PyMOL: resi \-3
    lines = _stamp_lines(stamp) + [
             f"# ESM-1v mean score on chain {cm.chain}; run from this folder: pymol structure.pml",
             f"load {structure_file}, esm1v", "hide everything, esm1v", "show cartoon, esm1v",
             "color grey70, esm1v", "select esm1v_scored, none"]
    for i in range(0, len(labels), 50):
        lines.append(f"select esm1v_scored, esm1v_scored or (esm1v and chain {cm.chain} and "
                     f"resi {'+'.join(labels[i:i + 50])})")
    lines += [f"spectrum b, red_white_blue, esm1v_scored, minimum={-lim:.4g}, maximum={lim:.4g}",
              "deselect", "orient esm1v"]
    return "\n".join(lines) + "\n"


def write_outputs(spec: StructureSpec, protein: Protein, positions: pd.DataFrame, outdir,
                  stamp: str = "", models=()) -> list[str]:
    """Write structure.pdb/.cif, structure.defattr, structure.pml and structure_map.tsv from a
    positions table (columns position, mean_score). ``stamp``: a line heading the attribute file
    and the script (the random-weights stamp), and named in the structure's header
    (:func:`header_text`, with the ``models`` averaged). Returns the mismatch warnings."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    structure = read_structure(spec.path)
    cm = map_structure(spec, protein, structure)
    scores = dict(zip(positions["position"].astype(int), positions["mean_score"].astype(float)))
    set_scores(structure, cm, scores)
    name = output_name(spec.path)
    map_table(cm, protein.sequence).to_csv(outdir / "structure_map.tsv", sep="\t", index=False,
                                           lineterminator="\n")
    write_text(outdir / "structure.defattr", defattr_text(cm, scores, stamp))
    write_text(outdir / "structure.pml", pml_text(name, cm, scores, stamp))
    write_structure(structure, outdir / name, header_text(stamp, models))
    return [f"{spec.path}: chain {cm.chain} differs from the sequence at {m}"
            for m in cm.mismatches(protein.sequence)]
