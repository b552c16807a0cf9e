"""Structures of the proteins (config ``structures``): read a PDB/mmCIF file, check it at parse
time and map its chain onto the FASTA sequence.

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

The scored structure files are written by :mod:`esm1v_scan.outputs.structure_files`.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from Bio.Align import PairwiseAligner, substitution_matrices
from Bio.Data.PDBData import protein_letters_3to1_extended
from Bio.PDB import MMCIFParser, PDBParser
from Bio.PDB.Polypeptide import is_aa

from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein, check_known_id, read_input_bytes
from esm1v_scan.files import write_text

MIN_IDENTITY = 0.6  #: identical / aligned pairs below this: the chain is not this protein
MIN_COVERAGE = 0.5  #: aligned / observed residues of the chain below this: no real alignment
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
