"""Scores on a 3D structure: map a PDB/mmCIF chain onto the FASTA sequence and write it out with
``mean_score`` as B-factors, plus a ChimeraX attribute file and a PyMOL script.

Config ``structures``: FASTA id -> a PDB or mmCIF path, or ``{path, chain}``. Files ending in
``.cif``/``.mmcif`` are read as mmCIF, anything else as PDB (Bio.PDB, QUIET); a gzip-compressed file
(told by its magic bytes, as RCSB serves ``.pdb.gz``/``.cif.gz``) is read the same way, its format
told by the name without ``.gz``, and written out uncompressed (structure.pdb or structure.cif).
Only the first model is used to map; B-factors are written on every model.

Mapping: the chain's observed amino-acid residues (modified ones such as MSE count as their parent
amino acid) are aligned to the FASTA sequence with Biopython's PairwiseAligner (global, BLOSUM62,
gap open -10, extend -0.5, end gaps free), so the structure's own numbering, missing loops,
insertion codes, expression tags and point mutants all map. Only pairs the alignment supports are
mapped (:func:`supported`): the ends of each aligned stretch are trimmed back to identical pairs,
so tag residues paired with unresolved termini are not; a mismatch between identities (a point
mutant) is mapped and reported. A chain is rejected when fewer than ``MIN_COVERAGE`` of its
observed residues align or when fewer than ``MIN_IDENTITY`` of the aligned pairs are identical
(both of the whole alignment, before trimming).
Without a chain in the config, the chain with the most identical aligned residues is taken (ties:
the first in the file).

Outputs: every atom of a mapped residue gets that position's ``mean_score`` as B-factor; every other
atom (unobserved or unaligned residues, other chains, ligands, water) gets B-factor 0 and is left
out of the attribute file; the PyMOL script colours them grey. The structure file says so in its
header (:func:`header_text`: REMARK 6 lines in PDB, comments and ``_database_PDB_remark`` in
mmCIF), with the weights (ESM-1v or random), the models and esm1v-scan's version.
"""

from __future__ import annotations

import io
import json
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from Bio.Align import PairwiseAligner, substitution_matrices
from Bio.Data.PDBData import protein_letters_3to1_extended
from Bio.PDB import MMCIFIO, PDBIO, MMCIFParser, PDBParser
from Bio.PDB.Polypeptide import is_aa

from .errors import InputError
from .fasta import Protein, check_known_id, read_input_bytes
from .io import write_text

MIN_IDENTITY = 0.6  #: identical / aligned pairs below this: the chain is not this protein
MIN_COVERAGE = 0.5  #: aligned / observed residues of the chain below this: no real alignment
ATTRIBUTE = "esm1v_mean_score"
MAP_COLUMNS = ["position", "chain", "resnum", "icode", "resname", "match"]
_CIF_SUFFIXES = (".cif", ".mmcif")


@dataclass(frozen=True)
class StructureSpec:
    id: str  #: FASTA id
    path: str
    chain: str | None = None  #: None: the best-aligning chain

    def as_params(self) -> dict:
        return {"id": self.id, "path": self.path, "chain": self.chain}


@dataclass
class ChainMap:
    """One chain aligned to one sequence."""

    chain: str
    #: (position or None, residue or None) in alignment order: position None = a chain residue
    #: mapped to no position (outside the alignment, or cut from an aligned block's end by
    #: :func:`supported`); residue None = a sequence position no residue maps to
    pairs: list
    identical: int  #: identical pairs of the whole alignment (before the ends are cut)
    aligned: int  #: aligned pairs of the whole alignment (before the ends are cut)
    observed: int

    @property
    def identity(self) -> float:
        return self.identical / self.aligned if self.aligned else 0.0

    @property
    def mapped(self) -> dict:
        """position -> residue for every mapped pair (the supported part of the alignment)."""
        return {p: r for p, r in self.pairs if p is not None and r is not None}

    def mismatches(self, sequence: str) -> list[str]:
        """'K5 -> 105 ALA' for each aligned pair whose residues differ."""
        out = []
        for p, r in self.pairs:
            if p is not None and r is not None and _letter(r) != sequence[p - 1]:
                out.append(f"{sequence[p - 1]}{p} -> {self.chain} {residue_label(r)} {r.get_resname()}")
        return out


# -- reading ---------------------------------------------------------------------------------------
def output_name(path: str | Path) -> str:
    """structure.cif for mmCIF input, structure.pdb otherwise (gzipped or not: the output is
    uncompressed)."""
    return "structure.cif" if _is_cif(path) else "structure.pdb"


def _is_cif(path) -> bool:
    name = str(path).lower().removesuffix(".gz")
    return name.endswith(_CIF_SUFFIXES)


def _structure_text(path: Path) -> str:
    """The file's text, gunzipped when it is gzip (:func:`fasta.read_input_bytes`)."""
    prefix = "cannot read the structure: "
    return read_input_bytes(path, binary=prefix, damaged=prefix).decode("utf-8", errors="replace")


def read_structure(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise InputError("structure file not found", str(path))
    parser = MMCIFParser(QUIET=True) if _is_cif(path) else PDBParser(QUIET=True)
    text = _structure_text(path)
    try:
        structure = parser.get_structure("esm1v", io.StringIO(text))
    except Exception as err:  # Bio.PDB raises many types on bad files
        line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"cannot read the structure: {line}", str(path)) from None
    if len(structure) == 0 or not any(_observed(c) for c in structure[0]):
        raise InputError("cannot read the structure: no amino-acid residues found", str(path))
    return structure


def _letter(residue) -> str:
    return protein_letters_3to1_extended.get(residue.get_resname().upper(), "X")


def _observed(chain) -> list:
    """The chain's amino-acid residues with coordinates, in file order."""
    return [r for r in chain if r.id[0] != "W" and is_aa(r, standard=False)]


def residue_label(residue) -> str:
    """Residue number with insertion code, as ChimeraX and PyMOL write it: 52, 52A."""
    return f"{residue.id[1]}{residue.id[2].strip()}"


# -- alignment -------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _aligner() -> PairwiseAligner:
    aligner = PairwiseAligner(mode="global")
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.open_gap_score = -10
    aligner.extend_gap_score = -0.5
    aligner.end_insertion_score = 0.0
    aligner.end_deletion_score = 0.0
    return aligner


def align_chain(sequence: str, chain) -> ChainMap:
    residues = _observed(chain)
    letters = "".join(_letter(r) for r in residues)
    if not letters:
        return ChainMap(chain.id, [], 0, 0, 0)
    aligner = _aligner()
    alphabet = set(aligner.substitution_matrix.alphabet)
    clean = "".join(c if c in alphabet else "X" for c in sequence)
    aln = aligner.align(clean, letters.replace("U", "C").replace("O", "K"))[0]
    # columns in alignment order, 0-based: (position, residue index), None for the gap side
    columns, seq_next, res_next = [], 0, 0
    for (s0, s1), (r0, r1) in zip(*aln.aligned):
        columns += [(p, None) for p in range(seq_next, s0)]
        columns += [(None, i) for i in range(res_next, r0)]
        columns += list(zip(range(s0, s1), range(r0, r1)))
        seq_next, res_next = s1, r1
    columns += [(p, None) for p in range(seq_next, len(sequence))]
    columns += [(None, i) for i in range(res_next, len(residues))]
    same = {k: sequence[p] == letters[i] for k, (p, i) in enumerate(columns)
            if p is not None and i is not None}
    keep = supported(columns, same)
    pairs = []
    for k, (p, i) in enumerate(columns):
        if p is not None and i is not None and k not in keep:  # cut: position and residue unmapped
            pairs += [(p + 1, None), (None, residues[i])]
        else:
            pairs.append((None if p is None else p + 1, None if i is None else residues[i]))
    return ChainMap(chain.id, pairs, sum(same.values()), len(same), len(residues))


def supported(columns: list, same: dict[int, bool]) -> set[int]:
    """The aligned columns the alignment supports (indices into ``columns``, (position, residue)
    pairs with None for a gap; ``same``: aligned column -> identical or not).

    Free end gaps make a global alignment pair a tag's residues with unresolved terminal
    positions (two mismatches cost less than one internal gap), or open a gap to reach one
    identical residue. So each stretch of the alignment between unresolved positions of the
    sequence (columns with no residue) is trimmed at both ends: counting from the end inward,
    +1 per identical pair, -1 per mismatch and per chain residue with no position (a tag
    residue, an insertion), the columns up to where the count is lowest are cut (the longest
    such stretch; nothing when the count never drops below 0). A kept stretch thus starts and
    ends with an identical pair; a lone chance identity among a tag's mismatches does not anchor
    it; a point mutant between identities stays mapped (a mismatch)."""
    aligned = sorted(same)
    if not aligned:
        return set()
    keep, stretch = set(), []
    for k in range(aligned[0], aligned[-1] + 2):
        if k <= aligned[-1] and columns[k][1] is not None:
            stretch.append(k)
            continue
        if stretch:  # a position without residue, or the end: trim the stretch
            values = [1 if same.get(c, False) else -1 for c in stretch]
            first = _lowest(values)
            last = len(values) - _lowest(values[first:][::-1])
            keep.update(c for c in stretch[first:last] if c in same)
        stretch = []
    return keep


def _lowest(values: list[int]) -> int:
    """How many leading values to cut: up to the lowest running sum below 0 (the last of equals)."""
    total = lowest = at = 0
    for k, v in enumerate(values):
        total += v
        if total < 0 and total <= lowest:
            lowest, at = total, k + 1
    return at


def _acceptable(cm: ChainMap) -> bool:
    return cm.aligned > 0 and cm.identity >= MIN_IDENTITY and cm.aligned >= MIN_COVERAGE * cm.observed


def map_structure(spec: StructureSpec, protein: Protein, structure=None) -> ChainMap:
    """Align the configured chain (or every chain, keeping the best) to the sequence."""
    structure = structure if structure is not None else read_structure(spec.path)
    model = structure[0]
    where = str(spec.path)
    if spec.chain is not None:
        if spec.chain not in model:
            found = ", ".join(c.id for c in model if _observed(c))
            raise InputError(f"chain '{spec.chain}' not found (protein chains: {found})", where,
                             spec.id)
        cm = align_chain(protein.sequence, model[spec.chain])
        if not _acceptable(cm):
            raise InputError(
                f"chain '{spec.chain}' does not align to the sequence: {cm.aligned} of its "
                f"{cm.observed} residues aligned, {cm.identity:.0%} identical (need "
                f"{MIN_COVERAGE:.0%} aligned and {MIN_IDENTITY:.0%} identical)", where, spec.id)
        return cm
    maps = [align_chain(protein.sequence, c) for c in model]
    good = [cm for cm in maps if _acceptable(cm)]
    if not good:
        tried = "; ".join(f"{cm.chain}: {cm.identity:.0%} identical over {cm.aligned} of "
                          f"{cm.observed}" for cm in maps if cm.observed)
        raise InputError(f"no chain aligns to the sequence ({tried}); need {MIN_COVERAGE:.0%} of "
                         f"a chain's residues aligned, {MIN_IDENTITY:.0%} identical", where, spec.id)
    return max(good, key=lambda cm: cm.identical)  # max keeps the first of equals


# -- configuration ---------------------------------------------------------------------------------
def specs_from_config(value, proteins: list[Protein]) -> dict[str, StructureSpec]:
    if not value:
        return {}
    where = "config 'structures'"
    if not isinstance(value, dict):
        raise InputError("structures: give a mapping from FASTA id to a file or {path, chain}", where)
    ids = dict.fromkeys(p.id for p in proteins)
    specs = {}
    for seq_id, entry in value.items():
        seq_id = str(seq_id)
        check_known_id(seq_id, ids, "structure", where)
        if isinstance(entry, (str, Path)):
            specs[seq_id] = StructureSpec(seq_id, str(entry))
        elif isinstance(entry, dict) and entry.get("path") and set(entry) <= {"path", "chain"}:
            chain = entry.get("chain")
            specs[seq_id] = StructureSpec(seq_id, str(entry["path"]), None if chain in (None, "") else str(chain))
        else:
            raise InputError(f"structure for '{seq_id}': give a path or a mapping with 'path' and "
                             "optionally 'chain'", where)
    return specs


def check_structures(config_structures, proteins: list[Protein],
                     cache: str | Path | None = None) -> dict[str, StructureSpec]:
    """Parse-time check of config ``structures``: every file read, every chain found and aligned.
    Returns the specs with the chain resolved; raises InputError (file, chain, problem).

    ``cache``: a JSON file of passed checks, keyed by the structure file (path, size,
    modification time), the sequence's sha256 and the chain asked for. Reading and aligning costs
    ~0.1 s per structure, paid at every Snakemake start (dry runs, each cluster job) without it;
    a file that changed is checked again."""
    by_id = {p.id: p for p in proteins}
    specs = specs_from_config(config_structures, proteins)
    if not specs:
        return {}
    passed = _read_cache(cache)
    out, new = {}, {}
    for seq_id, spec in specs.items():
        key = _cache_key(spec, by_id[seq_id])
        chain = passed.get(key) if key else None
        if chain is None:
            chain = map_structure(spec, by_id[seq_id]).chain
            if key:
                new[key] = chain
        out[seq_id] = StructureSpec(seq_id, spec.path, chain)
    if new and cache:
        _write_cache(cache, {**passed, **new})
    return out


def _cache_key(spec: StructureSpec, protein: Protein) -> str | None:
    try:
        st = Path(spec.path).stat()
    except OSError:
        return None  # missing: map_structure says so
    return "\t".join([str(Path(spec.path).resolve()), str(st.st_size), str(st.st_mtime_ns),
                      protein.sha256, spec.chain or ""])


def _read_cache(cache) -> dict:
    try:
        data = json.loads(Path(cache).read_text()) if cache else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(cache, data: dict) -> None:
    path = Path(cache)
    try:
        write_text(path, json.dumps(data, indent=0, sort_keys=True))
    except OSError:
        pass  # a read-only working directory: the checks just run again next time


# -- outputs ---------------------------------------------------------------------------------------
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
    from . import __version__

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
