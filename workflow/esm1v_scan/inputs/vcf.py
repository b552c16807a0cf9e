"""Annotated VCFs (Ensembl VEP ``CSQ`` or SnpEff ``ANN``) -> the protein variants to score.

:func:`plan_vcf` streams a VCF once and gives a :class:`VcfPlan`: one row per (ALT allele,
transcript) entry with a protein-level consequence (:data:`ENTRY_COLUMNS`), the proteins to
score (deduplicated by sequence) and, per protein, a
:class:`~esm1v_scan.inputs.variant_lists.VariantList` built from the entries' HGVS p. texts by
the code that reads mutation lists (:func:`~esm1v_scan.inputs.variant_lists.from_table`), so an
entry scores exactly as the same row of a mutation list would.

Reading
-------
Lines are read with ``str.split`` (plain, gzip or bgzip input; bgzip is gzip to Python's reader),
not through pysam/htslib: planning needs one INFO key out of each line, and the output must keep
every other byte of a record unchanged (:mod:`esm1v_scan.outputs.vcf_files` rewrites INFO only), so
a full VCF parser would do more work and re-serialise what it read. Records whose annotation has
none of the protein-level consequence terms are counted and skipped after one regular-expression
search, which keeps a whole-exome VCF at a few seconds (``benchmarks/vcf_scale.py``).

The annotation's fields are found by name from the header, never by position: VEP's
``##INFO=<ID=CSQ,...,Description="... Format: Allele|Consequence|...">`` (any INFO ID, VEP's
``--vcf_info_field`` may rename it) or SnpEff's ``Description="Functional annotations: 'Allele |
Annotation | ...'"``. A VCF with neither is one :class:`~esm1v_scan.errors.InputError` saying how
to annotate it.

Entries and their flags
-----------------------
An entry is one (ALT allele, transcript) annotation whose consequence (VEP ``Consequence``, SnpEff
``Annotation``; ``&``-joined terms) holds a term of :data:`PROTEIN_TERMS`: missense, stop-gain,
in-frame insertion/deletion (SnpEff's conservative/disruptive forms too), protein-altering,
synonymous (kept, scored 0), and frameshift, start loss, stop loss (kept, flagged, not scored).
Other entries (intronic, UTR, splice, non-coding, intergenic) are not entries; their records pass
through the output unchanged. The protein change comes from VEP's ``HGVSp`` (URL-escaped ``%3D``
read), else VEP's ``Protein_position`` + ``Amino_acids`` (``175`` + ``R/H``; ``12-13`` + ``-/GA``
needs the sequence for the insertion's flanks), or SnpEff's ``HGVS.p``. ``flag`` is ``''`` for an
entry to score, else the first reason that applies, in this order: ``symbolic`` is never an entry
(symbolic ALTs such as ``<DEL>``, ``*`` and breakends are counted in ``symbolic_alleles`` and
passed through); ``allele_not_in_record`` (the annotation's Allele matches no ALT);
``frameshift``, ``start_lost``, ``stop_lost`` (from the parsed HGVS p., or from the consequence
when there is none); ``unreadable_hgvsp``; ``no_hgvsp``; ``nonstandard_residue`` (a substitution
to Sec or Pyl: no score in a scan table); ``protein_not_found``;
``unusable_sequence`` (residues the model has no token for); ``reference_mismatch`` (the HGVS p.
names a residue the FASTA sequence does not have: counted, warned, not scored); ``multi_site``
(an allele with several changes including a stop or an indel).

Multi-allelic records: every ALT is scored on its own, each entry matched to its ALT by VEP's
``ALLELE_NUM`` when present, else by its ``Allele`` in VEP's allele notation (the first base
removed from every allele when all of REF and ALTs share it, ``-`` for an empty allele), else the
ALT as written (SnpEff's notation), else the ALT minimised against REF.

Proteins
--------
The protein FASTA (plain or gzip; Ensembl ``pep.all`` headers ``>ENSP... pep ...
transcript:ENST... gene_symbol:...``) is read whole. An entry's protein is found by its protein
id (VEP ``ENSP``, or the ``HGVSp`` prefix), else by its transcript (``Feature``/``Feature_ID``)
through ``transcript_map`` (TSV: transcript, protein id; for RefSeq NM_ -> NP_) or the FASTA's
``transcript:`` fields; a version suffix is ignored when the unversioned id names one record.
Proteins with the same sequence are scored once, under the id of the first FASTA record with that
sequence (``key``, the FASTA id of ``results/vcf/proteins.fasta``): many transcripts share one.
A FASTA that lacks most of the annotated transcripts is an InputError with the counts.

MANE and canonical: ``mane`` is true where VEP's ``MANE_SELECT`` (or ``MANE``) field is non-empty,
``canonical`` where ``CANONICAL`` is ``YES``; SnpEff declares neither.

Cache
-----
:func:`cached_plan` keeps the plan under ``cache_root/<plan_key>/`` (:func:`save_plan`: JSON for
proteins, sites, indels, counts and the HGVS texts per protein; parquet for the entries), written
to a temp folder and renamed into place. :func:`load_plan` reads it back without re-parsing the VCF;
the variant lists are rebuilt from their texts only when a caller asks for one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from esm1v_scan.errors import InputError
from esm1v_scan.inputs import hgvs
from esm1v_scan.inputs.fasta import ESM_RESIDUES, GZIP_MAGIC, Protein
from esm1v_scan.inputs.variant_lists import VariantList, VariantSpec, from_table, row_plan

#: One row per (ALT allele, transcript) entry of the plan.
#: record: 0-based index of the data line; allele: 1-based ALT index; protein: the protein id
#: (annotated or resolved; '' if none); hgvs_p: normalised p. or ''; key: FASTA id of the scored
#: (deduplicated) protein, '' if not scorable; flag: '' if scored, else the reason.
ENTRY_COLUMNS = ["record", "allele", "chrom", "pos", "ref", "alt", "symbol", "feature", "protein",
                 "hgvs_p", "consequence", "variant_type", "mane", "canonical", "key", "flag"]
#: The plan's file format (part of the cache key: a new format is a new plan).
PLAN_VERSION = 1
#: The column of the HGVS texts in a plan's variant lists.
MUTANT_COLUMN = "mutant"

#: Consequence terms (VEP and SnpEff, Sequence Ontology) that make an entry, scored or flagged.
SCORED_TERMS = frozenset({
    "missense_variant", "stop_gained", "inframe_insertion", "inframe_deletion",
    "protein_altering_variant", "conservative_inframe_insertion", "disruptive_inframe_insertion",
    "conservative_inframe_deletion", "disruptive_inframe_deletion", "synonymous_variant",
})
FLAGGED_TERMS = {"frameshift_variant": "frameshift", "start_lost": "start_lost",
                 "stop_lost": "stop_lost"}
PROTEIN_TERMS = SCORED_TERMS | frozenset(FLAGGED_TERMS)
_TERMS_RE = re.compile("|".join(sorted(PROTEIN_TERMS, key=len, reverse=True)))
#: HGVS p. variant types that are flagged, not scored.
_FLAGGED_TYPES = {"frameshift": "frameshift", "start_lost": "start_lost", "stop_lost": "stop_lost"}
#: Why each flag: words for the summary.
FLAGS = {
    "allele_not_in_record": "the annotation's allele matches no ALT of the record",
    "frameshift": "frameshift (the mutant protein after the shift is not known)",
    "start_lost": "start loss (no defined mutant protein)",
    "stop_lost": "stop loss (the extension's residues are not known)",
    "unreadable_hgvsp": "the protein change could not be read",
    "no_hgvsp": "no protein change annotated (VEP --hgvs, or Protein_position + Amino_acids)",
    "nonstandard_residue": "a substitution to selenocysteine or pyrrolysine (not scored)",
    "protein_not_found": "the protein is not in the protein FASTA",
    "unusable_sequence": "the protein's sequence has residues the model cannot read",
    "reference_mismatch": "the reference residue differs from the protein FASTA",
    "multi_site": "multi-site allele with a stop-gain or an indel",
    "indel_not_scored": "in-frame indels need the local backend",
}
HOW_TO_ANNOTATE = (
    "annotate it with Ensembl VEP (--vcf --hgvs --protein --canonical --mane_select --symbol; "
    "the CSQ field) or SnpEff (the ANN field) first")

_VERSION = re.compile(r"^(.+)\.\d+$")


def _base(accession: str) -> str:
    m = _VERSION.match(accession)
    return m.group(1) if m else accession


# -- the plan -----------------------------------------------------------------------------------
class _LazyLists(Mapping):
    """key -> VariantList, built from the key's HGVS texts on first use (a loaded plan)."""

    def __init__(self, texts: dict[str, list[str]], proteins: dict[str, str], path: str):
        self.texts, self.proteins, self.path = texts, proteins, path
        self._built: dict[str, VariantList] = {}

    def __getitem__(self, key: str) -> VariantList:
        if key not in self._built:
            self._built[key] = variant_list(key, self.proteins[key], self.texts[key], self.path)
        return self._built[key]

    def __iter__(self):
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class VcfPlan:
    """What one annotated VCF needs scored, and how each of its entries maps to a score."""

    name: str
    path: str
    annotation: str  #: the INFO field read: "CSQ" (VEP) or "ANN" (SnpEff)
    proteins: dict[str, str]  #: key -> sequence, only those needed, deduplicated
    variant_lists: Mapping[str, VariantList]  #: key -> the VariantList of its distinct HGVS p. texts
    entries: pd.DataFrame  #: ENTRY_COLUMNS, one row per (allele, transcript) entry
    counts: dict[str, int] = field(default_factory=dict)  #: see :func:`plan_vcf`
    #: what plan_vcf told ``warn`` (kept with a cached plan, told again when it is loaded)
    warnings: list[str] = field(default_factory=list)
    _positions: dict[str, list[int]] | None = field(default=None, repr=False, kw_only=True)
    _indels: dict[str, list[str]] | None = field(default=None, repr=False, kw_only=True)

    def positions(self) -> dict[str, list[int]]:
        """key -> 1-based sites to scan (VariantList.positions)."""
        if self._positions is None:
            self._positions = {k: self.variant_lists[k].positions for k in self.variant_lists}
        return self._positions

    def indels(self) -> dict[str, list[str]]:
        """key -> in-frame indels to score (VariantList.indel_variants); keys without any left
        out."""
        if self._indels is None:
            out = {k: self.variant_lists[k].indel_variants() for k in self.variant_lists}
            self._indels = {k: v for k, v in out.items() if v}
        return self._indels

    def texts(self) -> dict[str, list[str]]:
        """key -> the distinct HGVS p. texts of its variant list."""
        if isinstance(self.variant_lists, _LazyLists):
            return self.variant_lists.texts
        return {k: list(v.table[MUTANT_COLUMN]) for k, v in self.variant_lists.items()}


def variant_list(key: str, sequence: str, texts: list[str], path: str) -> VariantList:
    """The variant list of one scored protein: its entries' HGVS p. texts read as a mutation
    list's rows (offset 1: HGVS numbers the protein from its first residue)."""
    spec = VariantSpec(key, str(path), 1, MUTANT_COLUMN)
    return from_table(spec, pd.DataFrame({MUTANT_COLUMN: texts}, dtype=str),
                      Protein(key, key, sequence))


# -- files --------------------------------------------------------------------------------------
def _open_text(path) -> Iterator[str]:
    """Lines of a plain or gzip/bgzip text file, newline removed."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", str(path))
    with open(path, "rb") as fh:
        magic = fh.read(2)
    opener = gzip.open if magic == GZIP_MAGIC else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as fh:
            for line in fh:
                yield line.rstrip("\r\n")
    except (OSError, EOFError) as err:  # truncated or corrupt gzip
        raise InputError(f"cannot read the file ({err})", str(path)) from None


@dataclass
class ProteinIndex:
    """A protein FASTA, looked up by protein id or transcript id (versions ignored when
    unambiguous); ``key`` gives the first record with the same sequence."""

    path: str
    sequences: dict[str, str]  #: protein id -> sequence, file order
    transcripts: dict[str, str]  #: transcript id -> protein id (FASTA ``transcript:`` and map)
    _proteins_base: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _transcripts_base: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _first: dict[str, str] = field(default_factory=dict, repr=False)
    #: how many lookups needed a version suffix ignored
    unversioned: int = 0

    def __post_init__(self):
        for pid in self.sequences:
            self._proteins_base.setdefault(_base(pid), []).append(pid)
        for tid in self.transcripts:
            self._transcripts_base.setdefault(_base(tid), []).append(tid)

    def protein(self, accession: str) -> str | None:
        """The FASTA id for a protein accession, or None."""
        if not accession:
            return None
        if accession in self.sequences:
            return accession
        found = self._proteins_base.get(_base(accession), ())
        if len(found) == 1:
            self.unversioned += 1
            return found[0]
        return None

    def by_transcript(self, transcript: str) -> str | None:
        if not transcript:
            return None
        tid = transcript if transcript in self.transcripts else None
        if tid is None:
            found = self._transcripts_base.get(_base(transcript), ())
            if len(found) != 1:
                return None
            tid = found[0]
            self.unversioned += 1
        return self.protein(self.transcripts[tid])

    def key(self, protein_id: str) -> str:
        """The FASTA id of the first record holding this protein's sequence."""
        if not self._first:
            for pid, seq in self.sequences.items():
                self._first.setdefault(seq, pid)
        return self._first[self.sequences[protein_id]]


def read_protein_index(proteins_path, transcript_map=None) -> ProteinIndex:
    """Read the protein FASTA (plain or gzip) and the optional transcript map."""
    file = str(proteins_path)
    sequences: dict[str, str] = {}
    transcripts: dict[str, str] = {}
    pid, chunks = None, []

    def done():
        if pid is not None:
            sequences.setdefault(pid, "".join(chunks).replace(" ", "").upper().rstrip("*"))

    for n, line in enumerate(_open_text(proteins_path), start=1):
        if line.startswith(">"):
            done()
            words = line[1:].split()
            if not words:
                raise InputError(f"line {n}: a FASTA header without an id", file)
            pid, chunks = words[0], []
            for word in words[1:]:
                if word.startswith("transcript:"):
                    transcripts.setdefault(word[11:], pid)
        elif line.strip():
            if pid is None:
                raise InputError(f"line {n}: sequence before the first '>' header (not a FASTA "
                                 "file?)", file)
            chunks.append(line.strip())
    done()
    if not sequences:
        raise InputError("no FASTA records (give the protein sequences of the annotated "
                         "transcripts, e.g. Ensembl's Homo_sapiens.GRCh38.pep.all.fa.gz)", file)
    if transcript_map:
        mapped = read_transcript_map(transcript_map)
        transcripts.update(mapped)  # the map wins over the FASTA's transcript: fields
    return ProteinIndex(file, sequences, transcripts)


def read_transcript_map(path) -> dict[str, str]:
    """TSV: transcript id, protein id (a header line naming them is skipped; '#' lines too)."""
    out: dict[str, str] = {}
    for n, line in enumerate(_open_text(path), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) < 2 or not cols[0] or not cols[1]:
            raise InputError(f"line {n}: expected two tab-separated columns, transcript id and "
                             f"protein id; got {line[:80]!r}", str(path))
        if n == 1 and "transcript" in cols[0].lower():
            continue
        out[cols[0]] = cols[1]
    return out


# -- the header ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Annotation:
    """The annotation field of a VCF: its INFO id, its tool and its field names in order."""

    tag: str
    tool: str  #: "vep" or "snpeff"
    fields: tuple[str, ...]

    def index(self, *names: str) -> int | None:
        for name in names:
            if name in self.fields:
                return self.fields.index(name)
        return None


_INFO_ID = re.compile(r"^##INFO=<ID=([^,>]+),")
_DESCRIPTION = re.compile(r'Description="((?:[^"\\]|\\.)*)"')


def parse_header_line(line: str) -> Annotation | None:
    """A ``##INFO`` line declaring VEP (``Format: a|b``) or SnpEff (``Functional annotations:
    'a | b'``) annotations -> :class:`Annotation`; None for any other line."""
    m = _INFO_ID.match(line)
    if not m:
        return None
    d = _DESCRIPTION.search(line)
    if not d:
        return None
    text = d.group(1)
    if "Functional annotations:" in text:
        spec, tool = text.split("Functional annotations:", 1)[1], "snpeff"
    elif "Format:" in text:
        spec, tool = text.split("Format:", 1)[1], "vep"
    else:
        return None
    spec = spec.strip().strip("'\"").strip()
    fields = tuple(f.strip() for f in spec.split("|"))
    if len(fields) < 2 or "Allele" not in fields:
        return None
    return Annotation(m.group(1), tool, fields)


def choose_annotation(found: list[Annotation]) -> Annotation | None:
    """VEP's CSQ first (it has protein ids), then any VEP field, then SnpEff's ANN."""
    if not found:
        return None
    return sorted(found, key=lambda a: (a.tool != "vep", a.tag != "CSQ", a.tag != "ANN"))[0]


# -- alleles ------------------------------------------------------------------------------------
def is_symbolic(alt: str) -> bool:
    """<DEL>, <*>, breakends, the spanning deletion '*', a missing '.'."""
    return not alt or alt[0] in "<.*" or "[" in alt or "]" in alt or alt.startswith(".")


def _minimal(ref: str, alt: str) -> str:
    i = 0
    while i < min(len(ref), len(alt)) and ref[i] == alt[i]:
        i += 1
    r, a = ref[i:], alt[i:]
    while r and a and r[-1] == a[-1]:
        r, a = r[:-1], a[:-1]
    return a or "-"


def allele_forms(ref: str, alts: list[str], tool: str) -> dict[str, int]:
    """Allele text as an annotation writes it -> 1-based ALT index (see the module docstring)."""
    vep: list[str] = list(alts)
    alleles = [ref, *alts]
    if (all(alleles) and len({a[0] for a in alleles}) == 1
            and not all(len(a) == 1 for a in alleles)):
        vep = [a[1:] or "-" for a in alts]
    forms: dict[str, int] = {}
    orders = (vep, alts) if tool == "vep" else (alts, vep)
    for order in orders:
        for i, form in enumerate(order, start=1):
            forms.setdefault(form, i)
    for i, alt in enumerate(alts, start=1):
        forms.setdefault(_minimal(ref, alt), i)
    return forms


# -- protein changes ----------------------------------------------------------------------------
def protein_change(amino_acids: str, position: str, sequence: str | None) -> str | None:
    """VEP's ``Amino_acids`` + ``Protein_position`` -> HGVS p. (``R/H`` + ``175`` ->
    ``p.Arg175His``; ``A`` + ``25`` -> ``p.Ala25=``; ``K/*`` -> stop-gain; ``KE/K`` + ``12-13``
    -> ``p.Glu13del``; ``-/GA`` + ``12-13`` -> ``p.Lys12_Glu13insGlyAla``, the flanks from
    ``sequence``). None when it cannot be said (``?`` positions, ``X`` residues, an insertion at
    the end, a change after a stop)."""
    if not amino_acids or not position or "?" in position:
        return None
    ref, _, alt = amino_acids.partition("/") if "/" in amino_acids else (amino_acids, "", amino_acids)
    ref, alt = ("" if ref == "-" else ref), ("" if alt == "-" else alt)
    try:
        start = int(position.split("-", 1)[0])
    except ValueError:
        return None
    if not all(c in hgvs.THREE for c in ref + alt) or start < 1:
        return None

    def three(s: str) -> str:
        return "".join(hgvs.THREE[c] for c in s)

    if ref == alt:
        return f"p.{three(ref[0])}{start}=" if ref else None
    inserted_only = not ref
    while ref and alt and ref[0] == alt[0]:
        ref, alt, start = ref[1:], alt[1:], start + 1
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    if "*" in ref:
        return None  # a change of the stop: an extension (stop_lost), flagged by its consequence
    if alt.startswith("*"):
        return f"p.{three(ref[0])}{start}Ter" if ref else None
    if "*" in alt:
        return None
    end = start + len(ref) - 1
    if not ref:  # insertion before `start` (after a trimmed prefix) or between VEP's flanks
        left = start if inserted_only else start - 1
        if sequence is None or left < 1 or left + 1 > len(sequence):
            return None
        return (f"p.{three(sequence[left - 1])}{left}_{three(sequence[left])}{left + 1}"
                f"ins{three(alt)}")
    loc = f"{three(ref[0])}{start}" + (f"_{three(ref[-1])}{end}" if end > start else "")
    if not alt:
        return f"p.{loc}del"
    if len(ref) == 1 and len(alt) == 1:
        return f"p.{loc}{three(alt)}"
    return f"p.{loc}delins{three(alt)}"


# -- planning -----------------------------------------------------------------------------------
@dataclass
class _Fields:
    """Where the fields an entry needs are, in one annotation's order."""

    n: int
    allele: int
    consequence: int
    symbol: int | None
    feature: int | None
    protein: int | None
    hgvsp: int | None
    position: int | None
    amino_acids: int | None
    canonical: int | None
    mane: tuple[int, ...]
    allele_num: int | None

    @classmethod
    def of(cls, ann: Annotation, file: str) -> "_Fields":
        vep = ann.tool == "vep"
        consequence = ann.index("Consequence") if vep else ann.index("Annotation")
        if consequence is None:
            raise InputError(f"the {ann.tag} header declares no "
                             f"{'Consequence' if vep else 'Annotation'} field; {HOW_TO_ANNOTATE}",
                             file)
        return cls(
            n=len(ann.fields),
            allele=ann.index("Allele"),
            consequence=consequence,
            symbol=ann.index("SYMBOL") if vep else ann.index("Gene_Name"),
            feature=ann.index("Feature") if vep else ann.index("Feature_ID"),
            protein=ann.index("ENSP") if vep else None,
            hgvsp=ann.index("HGVSp") if vep else ann.index("HGVS.p"),
            position=ann.index("Protein_position") if vep else None,
            amino_acids=ann.index("Amino_acids") if vep else None,
            canonical=ann.index("CANONICAL") if vep else None,
            mane=tuple(i for i in (ann.index("MANE_SELECT"), ann.index("MANE")) if i is not None)
            if vep else (),
            allele_num=ann.index("ALLELE_NUM") if vep else None,
        )


def _info_value(info: str, tag: str) -> str | None:
    """The value of INFO key ``tag`` ('KEY=value;...'), or None."""
    head = tag + "="
    if info.startswith(head):
        start = len(head)
    else:
        at = info.find(";" + head)
        if at < 0:
            return None
        start = at + 1 + len(head)
    end = info.find(";", start)
    return info[start:] if end < 0 else info[start:end]


def _warn(warn, message: str) -> None:
    if warn is not None:
        warn(message)


def plan_vcf(name: str, vcf_path, proteins_path, transcript_map=None,
             warn: Callable[[str], None] | None = None) -> VcfPlan:
    """Stream ``vcf_path`` and plan its scoring against the protein FASTA ``proteins_path``
    (``transcript_map``: optional TSV transcript -> protein id).

    ``counts``: ``records``, ``alleles`` (ALT alleles), ``symbolic_alleles``,
    ``records_without_annotation``, ``entries`` (rows of ``entries``), ``protein_altering``
    (entries with a consequence other than synonymous), ``synonymous``, ``scored`` (entries with
    no flag; synonymous included) and ``not_scored_<flag>`` per flag. ``warn`` gets one line per
    kind of problem that does not stop the run (reference mismatches, missing proteins)."""
    file = str(vcf_path)
    index = read_protein_index(proteins_path, transcript_map)
    found: list[Annotation] = []
    ann: Annotation | None = None
    fields: _Fields | None = None
    records = alleles = symbolic = unannotated = 0
    rows: list[tuple] = []
    header_done = False
    parsed: dict[str, hgvs.ProteinVariant | None] = {}  # HGVS text -> variant (None: unreadable)
    mismatch_examples: list[str] = []
    transcripts_seen: set[str] = set()
    transcripts_missing: set[str] = set()
    usable: dict[str, bool] = {}  # protein id -> every residue one the model reads

    for n, line in enumerate(_open_text(vcf_path), start=1):
        if not line:
            continue
        if line[0] == "#":
            if line.startswith("##INFO="):
                a = parse_header_line(line)
                if a is not None:
                    found.append(a)
            elif line.startswith("#CHROM"):
                ann = choose_annotation(found)
                if ann is None:
                    raise InputError(f"the VCF has no VEP (CSQ) or SnpEff (ANN) annotation in its "
                                     f"header; {HOW_TO_ANNOTATE}", file)
                fields = _Fields.of(ann, file)
                header_done = True
            continue
        if not header_done:
            raise InputError(f"line {n}: a record before the '#CHROM' header line (not a VCF, or "
                             "its header is missing)", file)
        record = records
        records += 1
        cols = line.split("\t", 8)
        if len(cols) < 8:
            raise InputError(f"line {n}: {len(cols)} tab-separated columns, a VCF record has at "
                             "least 8 (CHROM POS ID REF ALT QUAL FILTER INFO)", file)
        alt_text = cols[4]
        alts = alt_text.split(",")
        if alt_text != ".":
            alleles += len(alts)
            symbolic += sum(map(is_symbolic, alts))
        value = _info_value(cols[7], ann.tag)
        if value is None:
            unannotated += 1
            continue
        if _TERMS_RE.search(value) is None:
            continue  # no protein-level consequence: passed through
        chrom, ref = cols[0], cols[3]
        try:
            pos = int(cols[1])
        except ValueError:
            raise InputError(f"line {n}: POS '{cols[1]}' is not a number", file) from None
        forms = None
        for text in value.split(","):
            f = text.split("|")
            if len(f) != fields.n:
                raise InputError(
                    f"line {n}: an {ann.tag} entry has {len(f)} fields, the header declares "
                    f"{fields.n} ({text[:60]!r})", file)
            terms = f[fields.consequence].split("&")
            if PROTEIN_TERMS.isdisjoint(terms):
                continue
            # which ALT
            allele = 0
            if fields.allele_num is not None and f[fields.allele_num].isdigit():
                allele = int(f[fields.allele_num])
                if not 1 <= allele <= len(alts):
                    allele = 0
            if not allele:
                if len(alts) == 1:
                    allele = 1
                else:
                    if forms is None:
                        forms = allele_forms(ref, alts, ann.tool)
                    allele = forms.get(f[fields.allele], 0)
            alt = alts[allele - 1] if allele else f[fields.allele]
            if allele and is_symbolic(alt):
                continue  # counted in symbolic_alleles, passed through
            feature = f[fields.feature] if fields.feature is not None else ""
            symbol = f[fields.symbol] if fields.symbol is not None else ""
            mane = any(f[i] for i in fields.mane)
            canonical = fields.canonical is not None and f[fields.canonical] == "YES"
            consequence = f[fields.consequence]
            hgvs_text = unquote(f[fields.hgvsp]) if fields.hgvsp is not None else ""
            protein_acc = f[fields.protein] if fields.protein is not None else ""
            if hgvs_text and ":" in hgvs_text:
                prefix, _, body = hgvs_text.partition(":")
                protein_acc = protein_acc or prefix
                hgvs_text = body
            flag, vtype, hgvs_p, key, protein_id = "", "", "", "", ""

            # the protein
            pid = index.protein(protein_acc) or index.by_transcript(feature)
            if feature:
                transcripts_seen.add(feature)
                if pid is None:
                    transcripts_missing.add(feature)
            protein_id = pid or protein_acc
            sequence = index.sequences[pid] if pid else None
            if not hgvs_text and fields.amino_acids is not None:
                hgvs_text = protein_change(f[fields.amino_acids], f[fields.position],
                                           sequence) or ""
            variant = None
            if hgvs_text:
                if hgvs_text not in parsed:
                    try:
                        parsed[hgvs_text] = hgvs.parse(hgvs_text)
                    except InputError:
                        parsed[hgvs_text] = None
                variant = parsed[hgvs_text]
            if not allele:
                flag = "allele_not_in_record"
            if variant is not None:
                vtype, hgvs_p = variant.variant_type, variant.hgvs_p
            if not flag:
                if variant is not None and vtype in _FLAGGED_TYPES:
                    flag = _FLAGGED_TYPES[vtype]
                elif variant is None:
                    term = next((FLAGGED_TERMS[t] for t in terms if t in FLAGGED_TERMS), None)
                    if term:
                        flag, vtype = term, term
                    elif hgvs_text:
                        flag = "unreadable_hgvsp"
                    else:
                        flag = "no_hgvsp"
            if (not flag and vtype in ("missense", "multi_missense")
                    and not variant.substitutions_only):
                flag = "nonstandard_residue"  # to Sec or Pyl: the model has no such score
            if not flag and pid is None:
                flag = "protein_not_found"
            if not flag:
                if pid not in usable:
                    usable[pid] = bool(sequence) and set(sequence) <= ESM_RESIDUES
                if not usable[pid]:
                    flag = "unusable_sequence"
            if not flag:
                try:
                    hgvs.check(variant, sequence, 1, None, None, pid)
                except InputError as err:
                    flag = "reference_mismatch"
                    if len(mismatch_examples) < 3:
                        mismatch_examples.append(f"line {n} {feature or pid}: {err.problem}")
            if not flag:
                key = index.key(pid)
            rows.append((record, allele, chrom, pos, ref, alt, symbol, feature, protein_id,
                         hgvs_p, consequence, vtype, mane, canonical, key, flag))

    if not header_done:
        raise InputError("no '#CHROM' header line (an empty or truncated VCF?)", file)
    entries = pd.DataFrame.from_records(rows, columns=ENTRY_COLUMNS)
    entries = entries.astype({"record": "int64", "allele": "int64", "pos": "int64",
                              "mane": bool, "canonical": bool})

    if transcripts_seen and len(transcripts_missing) * 2 > len(transcripts_seen):
        shown = ", ".join(sorted(transcripts_missing)[:3])
        raise InputError(
            f"the protein FASTA lacks {len(transcripts_missing)} of the "
            f"{len(transcripts_seen)} transcripts the VCF annotates with a protein change (e.g. "
            f"{shown}): give the protein FASTA of the annotation's release (e.g. Ensembl's "
            "pep.all for VEP's cache version) or a transcript_map", str(proteins_path))

    # the variant lists: one per scored protein, its distinct HGVS texts in first-seen order.
    # Their sites and indels come from the mutation-list code (row_plan, VariantList.positions,
    # VariantList.indel_variants) on the variants parsed above; the lists' tables are built when
    # a caller first asks for a list (score_entries), not here: 20,000 small DataFrames would
    # take most of a whole-exome plan's time.
    scored = entries[entries["flag"] == ""]
    texts: dict[str, list[str]] = {}
    for key, text in zip(scored["key"], scored["hgvs_p"]):
        texts.setdefault(key, {})[text] = None
    texts = {k: list(v) for k, v in texts.items()}
    by_norm = {v.hgvs_p: v for v in parsed.values() if v is not None}
    positions: dict[str, list[int]] = {}
    indels: dict[str, list[str]] = {}
    unscored: set[tuple[str, str]] = set()  # multi-site alleles with a stop or an indel
    for key, ts in texts.items():
        variants = [by_norm[t] for t in ts]
        rows = [row_plan(v, 1) for v in variants]
        for t, (_, p) in zip(ts, rows):
            if p.kind == "not_scored":
                unscored.add((key, t))
        keep = [i for i, (_, p) in enumerate(rows) if p.kind != "not_scored"]
        if len(keep) < len(ts):
            ts[:] = [ts[i] for i in keep]
            variants = [variants[i] for i in keep]
            rows = [rows[i] for i in keep]
        sketch = VariantList(None, None, [m for m, _ in rows], None, None, [], variants,
                             [p for _, p in rows], len(index.sequences[key]))
        positions[key] = sketch.positions
        if found_indels := sketch.indel_variants():
            indels[key] = found_indels
    if unscored:
        bad = [(k, h) in unscored for k, h in zip(entries["key"], entries["hgvs_p"])]
        entries.loc[bad, ["flag", "key"]] = ["multi_site", ""]
    texts = {k: v for k, v in texts.items() if v}
    positions = {k: positions[k] for k in texts}
    proteins = {k: index.sequences[k] for k in texts}
    lists = _LazyLists(texts, proteins, file)

    counts = {"records": records, "alleles": alleles, "symbolic_alleles": symbolic,
              "records_without_annotation": unannotated, "entries": len(entries)}
    synonymous = entries["variant_type"] == "synonymous"
    counts["protein_altering"] = int((~synonymous).sum())
    counts["synonymous"] = int(synonymous.sum())
    counts["scored"] = int((entries["flag"] == "").sum())
    for flag, k in entries.loc[entries["flag"] != "", "flag"].value_counts().sort_index().items():
        counts[f"not_scored_{flag}"] = int(k)

    warnings: list[str] = []
    if mismatch_examples:
        warnings.append(f"{file}: {counts['not_scored_reference_mismatch']} entries name a reference "
                    f"residue the protein FASTA does not have (not scored): "
                    + "; ".join(mismatch_examples))
    if transcripts_missing:
        warnings.append(f"{file}: {len(transcripts_missing)} of {len(transcripts_seen)} annotated "
                    f"transcripts are not in {proteins_path} (their entries are not scored), e.g. "
                    + ", ".join(sorted(transcripts_missing)[:3]))
    for message in warnings:
        _warn(warn, message)
    return VcfPlan(name, file, ann.tag, proteins, lists, entries, counts, warnings,
                   _positions=positions, _indels=indels)


# -- the cache ----------------------------------------------------------------------------------
def save_plan(plan: VcfPlan, folder) -> None:
    """Write ``plan`` into ``folder`` (``plan.json``, ``entries.parquet``): written to a temp folder
    beside it, then renamed into place (a reader sees the whole plan or none)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        meta = {"version": PLAN_VERSION, "name": plan.name, "path": plan.path,
                "annotation": plan.annotation, "counts": plan.counts, "warnings": plan.warnings,
                "proteins": plan.proteins,
                "texts": plan.texts(), "positions": plan.positions(), "indels": plan.indels()}
        plan.entries.to_parquet(tmp / "entries.parquet", index=False)
        (tmp / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_plan(folder) -> VcfPlan:
    """Read a plan written by :func:`save_plan` (the variant lists are built on first use)."""
    folder = Path(folder)
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    if meta.get("version") != PLAN_VERSION:
        raise ValueError(f"{folder}: plan format {meta.get('version')}, expected {PLAN_VERSION}")
    entries = pd.read_parquet(folder / "entries.parquet")
    positions = {k: [int(x) for x in v] for k, v in meta["positions"].items()}
    return VcfPlan(meta["name"], meta["path"], meta["annotation"], meta["proteins"],
                   _LazyLists(meta["texts"], meta["proteins"], meta["path"]), entries,
                   meta["counts"], meta["warnings"], _positions=positions,
                   _indels=meta["indels"])


def _stat(path) -> list | None:
    if path is None or path == "":
        return None
    p = Path(path).resolve()
    st = p.stat()
    return [str(p), st.st_size, st.st_mtime_ns]


def plan_key(vcf_path, proteins_path, transcript_map, extra: dict) -> str:
    """sha256 over the input files' (resolved path, size, mtime_ns), ``extra`` (plan-relevant
    config) and the plan format."""
    blob = json.dumps({"vcf": _stat(vcf_path), "proteins": _stat(proteins_path),
                       "transcript_map": _stat(transcript_map), "extra": extra,
                       "version": PLAN_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def cached_plan(name: str, vcf_path, proteins_path, transcript_map, cache_root,
                warn: Callable[[str], None] | None = None) -> VcfPlan:
    """The plan from ``cache_root/<plan_key>/`` when there, else planned and saved there."""
    for path, what in ((vcf_path, "VCF"), (proteins_path, "protein FASTA"),
                       (transcript_map, "transcript_map")):
        if path and not Path(path).exists():
            raise InputError(f"{what} not found", str(path))
    folder = Path(cache_root) / plan_key(vcf_path, proteins_path, transcript_map, {"name": name})
    if (folder / "plan.json").exists():
        try:
            plan = load_plan(folder)
        except (OSError, ValueError, KeyError):
            pass  # an older or damaged plan: planned again
        else:
            for message in plan.warnings:
                _warn(warn, message)
            return plan
    plan = plan_vcf(name, vcf_path, proteins_path, transcript_map, warn)
    save_plan(plan, folder)
    return plan
