"""Mutation lists: reading and checking variant files, and the sites and indels to score.

A variant file is a CSV/TSV with one variant per row, in the formats people already have:

- ProteinGym: column ``mutant`` like ``A25G``, multi-mutants joined by ``:`` (``A25G:K40R``),
  experimental values in ``DMS_score`` (optional); residues numbered from 1.
- fair-esm's ``examples/variant-prediction`` files: a ``mutant`` column plus an *offset*, the
  residue number of the sequence's first residue (TEM-1's DMS starts at 24).

Every cell of the mutant column is read by :mod:`esm1v_scan.inputs.hgvs`: the forms above unchanged,
and HGVS protein notation (``p.Arg97Cys``, ``NP_000537.3:p.R273H``, ``p.[Arg97Cys;Lys40Arg]``,
synonymous, stop-gain, in-frame deletion, insertion, deletion-insertion, duplication, frameshift,
start loss, stop loss). Column names and offset are configurable (:class:`VariantSpec`). Every
reference residue is checked against the sequence: bad input raises
:class:`~esm1v_scan.errors.InputError` naming the file and the row (``row N`` counts data rows from
1, the header excluded) and the problem, in one line. A reference-sequence prefix that names the
FASTA record is fine; one that names another accession of the same kind as the FASTA id (both
``NP_``, both ``ENSP``, both UniProt) is an error; any other prefix is ignored, with one warning
for the file.

Duplicates (two rows with the same variant; substitutions in any order) are KEPT: both rows get
the same scores and both count in the evaluation (they are usually replicate measurements); the
workflow logs a warning naming the rows.

The variants' scores, by type: :mod:`esm1v_scan.scoring.variant_scores`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from esm1v_scan.inputs import hgvs
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS, Protein, check_known_id

#: The experimental column used when none is configured and the file has it (ProteinGym).
DEFAULT_SCORE_COLUMN = "DMS_score"
#: The binary label (auc, mcc) used when neither bin_column nor cutoff is configured (ProteinGym).
DEFAULT_BIN_COLUMN = "DMS_score_bin"
#: Cells of the experimental column read as "not measured" (the row is left out of the evaluation).
MISSING = frozenset({"", "na", "nan", "n/a", "none", "null"})
#: Columns the workflow adds to the input rows (after the per-model scores ``score_<model>``).
ENSEMBLE_COLUMN = "score_ensemble"
ADDED_COLUMNS = ("hgvs_p", "variant_type", "scoring", "score_per_residue_delta")
#: In-frame types scored by a pseudo-log-likelihood ratio of the mutant sequence (rule indels).
INDEL_TYPES = frozenset({"inframe_deletion", "inframe_insertion", "delins", "duplication"})
NOT_SCORED = "not_scored"
#: Why a variant type is not scored (column ``scoring``: ``not_scored: <reason>``).
REASONS = {
    "frameshift": "frameshift (the mutant protein after the shift is not known)",
    "start_lost": "start loss (no defined mutant protein)",
    "stop_lost": "stop loss (the extension's residues are not known)",
    "multi_site": "multi-site allele with a stop-gain or an indel",
    "nonstandard_residue": "a substitution to selenocysteine or pyrrolysine (the model has no such score)",
    "biolm": "indels need the local backend",
}

#: wild type, residue number, substitution, as the tables write them: ``H24C``, and with a
#: negative offset (pro- and signal peptides numbered from 0 down) ``F-5A``, ``S0A``; no ``-0``
_MUTATION = re.compile(r"^([A-Za-z])(-?[1-9][0-9]*|[0-9]+)([A-Za-z*])$")
_SPEC_KEYS = ("path", "offset", "mutant_column", "score_column", "separator", "bin_column", "cutoff")


@dataclass(frozen=True)
class VariantSpec:
    """Where one sequence's variants are and how to read them (config key ``variants``)."""

    id: str  #: FASTA id of the sequence
    path: str
    offset: int = 1  #: residue number of the sequence's first residue
    mutant_column: str = "mutant"
    score_column: str | None = None  #: experimental values; None: DMS_score when present
    separator: str | None = None  #: None: tab for .tsv/.tab/.txt, comma otherwise
    bin_column: str | None = None  #: binary label column; None: DMS_score_bin when present
    cutoff: float | None = None  #: binary label = experimental value >= cutoff

    def as_params(self) -> dict:
        """A plain dict (for a rule's params)."""
        return {k: getattr(self, k) for k in ("id",) + _SPEC_KEYS}


@dataclass(frozen=True)
class Mutation:
    wt: str
    number: int  #: residue number as written in the file
    mt: str
    site: int  #: 1-based position in the sequence (number - offset + 1)

    def __str__(self) -> str:
        return f"{self.wt}{self.number}{self.mt}"


@dataclass(frozen=True)
class RowPlan:
    """How one row is scored: ``kind`` is ``sites`` (substitutions, masked marginals),
    ``synonymous`` (0), ``stop`` (min downstream from ``stop``), ``indel`` (PLLR of ``event``,
    1-based first and last sequence positions it replaces; insertions: their two neighbours) or
    ``not_scored`` (``reason`` says why)."""

    kind: str
    stop: int | None = None
    event: tuple[int, int] | None = None
    reason: str | None = None


@dataclass
class VariantList:
    """One sequence's variant file, read and checked."""

    spec: VariantSpec
    table: pd.DataFrame  #: the input rows, every cell as the text it was
    #: per row: its substitutions (synonymous ones included); () for the other types
    mutations: list[tuple[Mutation, ...]]
    score_column: str | None  #: the experimental column in use, if any
    experimental: np.ndarray | None  #: its values as floats (NaN = not measured)
    warnings: list[str] = field(default_factory=list)
    variants: list[hgvs.ProteinVariant] = field(default_factory=list)  #: per row, parsed
    plans: list[RowPlan] = field(default_factory=list)  #: per row, how it is scored
    length: int = 0  #: residues of the sequence
    #: the binary label of auc and mcc: {"column": name}, {"cutoff": value} or {} (none)
    label: dict = field(default_factory=dict)

    @property
    def positions(self) -> list[int]:
        """The sequence positions (1-based) to scan: the sites of non-synonymous substitutions,
        every position from each scored stop-gain to the end, and the first and last residue of
        each in-frame indel (their heatmap columns, marked)."""
        out: set[int] = set()
        for muts, plan in zip(self.mutations, self.plans or [RowPlan("sites")] * len(self.mutations)):
            if plan.kind == "sites":
                out.update(m.site for m in muts if m.wt != m.mt)
            elif plan.kind == "stop":
                out.update(range(plan.stop, self.length + 1))
            elif plan.kind == "indel":
                out.update(plan.event)
        return sorted(out)

    def marks(self) -> dict[str, list[int]]:
        """Positions the heatmap marks: ``stop`` (scored stop-gains), ``indel`` (first and last
        residue of in-frame indels)."""
        stops = sorted({p.stop for p in self.plans if p.kind == "stop"})
        indels = sorted({x for p in self.plans if p.kind == "indel" for x in p.event})
        return {k: v for k, v in (("stop", stops), ("indel", indels)) if v}

    def indel_variants(self) -> list[str]:
        """The distinct in-frame indels to score, as normalised HGVS (rule indels' param)."""
        return list(dict.fromkeys(v.hgvs_p for v, p in zip(self.variants, self.plans)
                                  if p.kind == "indel"))

    def counts(self) -> dict[str, int]:
        """variant_type -> rows, and ``not_scored`` -> rows left unscored."""
        out: dict[str, int] = {}
        for v in self.variants:
            out[v.variant_type] = out.get(v.variant_type, 0) + 1
        out[NOT_SCORED] = sum(p.kind == "not_scored" for p in self.plans)
        return out


# -- configuration ------------------------------------------------------------------------------
def _spec(seq_id: str, value, where: str, default_offset: int = 1) -> VariantSpec:
    if isinstance(value, (str, Path)):
        return VariantSpec(seq_id, str(value), offset=default_offset)
    if not isinstance(value, dict) or not value.get("path"):
        raise InputError(f"variants for '{seq_id}': give a file path or a mapping with 'path'", where)
    unknown = set(value) - set(_SPEC_KEYS)
    if unknown:
        raise InputError(
            f"variants for '{seq_id}': unknown key(s) {sorted(unknown)} (allowed: {list(_SPEC_KEYS)})",
            where,
        )
    clean = {k: v for k, v in value.items() if not _is_blank(v)}
    try:
        offset = int(clean.get("offset", default_offset))
    except (TypeError, ValueError):
        raise InputError(f"variants for '{seq_id}': offset must be an integer, got {value['offset']!r}",
                         where) from None
    score = clean.get("score_column")
    bin_column = clean.get("bin_column")
    cutoff = clean.get("cutoff")
    if bin_column is not None and cutoff is not None:
        raise InputError(f"variants for '{seq_id}': give bin_column or cutoff, not both (the "
                         "binary label is a column of the file, or experimental value >= cutoff)",
                         where)
    if cutoff is not None:
        try:
            cutoff = float(cutoff)
        except (TypeError, ValueError):
            cutoff = float("nan")
        if not np.isfinite(cutoff):
            raise InputError(f"variants for '{seq_id}': cutoff must be a number, got "
                             f"{value['cutoff']!r}", where)
    return VariantSpec(
        id=seq_id,
        path=str(clean["path"]),
        offset=offset,
        mutant_column=str(clean.get("mutant_column", "mutant")),
        score_column=None if score is None else str(score),
        separator=clean.get("separator"),
        bin_column=None if bin_column is None else str(bin_column),
        cutoff=cutoff,
    )


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


def read_sheet(path: str | Path) -> dict[str, dict]:
    """A samples sheet (CSV/TSV): columns ``id`` and ``path``, optional ``offset``,
    ``mutant_column``, ``score_column``, ``separator`` (empty cells take the defaults)."""
    path = Path(path)
    if not path.exists():
        raise InputError("variants sheet not found", str(path))
    df = pd.read_csv(path, sep=_separator(path, None), dtype=str, keep_default_na=False,
                     encoding="utf-8-sig")
    missing = {"id", "path"} - set(df.columns)
    if missing:
        raise InputError(f"the variants sheet needs columns 'id' and 'path'; found {list(df.columns)}",
                         str(path))
    unknown = set(df.columns) - {"id", *_SPEC_KEYS}
    if unknown:
        raise InputError(f"unknown column(s) {sorted(unknown)} (allowed: id, {', '.join(_SPEC_KEYS)})",
                         str(path))
    out: dict[str, dict] = {}
    for i, row in enumerate(df.to_dict("records"), start=1):
        seq_id = row.pop("id").strip()
        if seq_id in out:
            raise InputError(f"row {i}: id '{seq_id}' is listed twice", str(path))
        out[seq_id] = {k: v.strip() for k, v in row.items() if v.strip()}
    return out


def specs_from_config(value, proteins: list[Protein], fasta_path: str = "the FASTA file",
                      offsets: dict[str, int] | None = None) -> dict[str, VariantSpec]:
    """Config ``variants`` -> one spec per FASTA id. ``value`` is a mapping id -> path or
    {path, offset, mutant_column, score_column, separator}, or the path of a samples sheet.
    ``offsets`` (config ``offsets``, checked): a list without its own offset takes its
    sequence's, else 1; a list whose own offset differs from its sequence's entry in ``offsets``
    is an InputError (one protein, one numbering: see :func:`esm1v_scan.inputs.numbering.numbering`)."""
    if not value:
        return {}
    where = "config 'variants'"
    if isinstance(value, (str, Path)):
        where = str(value)
        value = read_sheet(value)
    ids = dict.fromkeys(p.id for p in proteins)
    offsets = offsets or {}
    specs = {}
    for seq_id, entry in value.items():
        seq_id = str(seq_id)
        check_known_id(seq_id, ids, "variants", where, fasta_path)
        spec = _spec(seq_id, entry, where, int(offsets.get(seq_id, 1)))
        if seq_id in offsets and spec.offset != int(offsets[seq_id]):
            raise InputError(
                f"two numberings for '{seq_id}': its variant list's offset is {spec.offset}, "
                f"config 'offsets' gives {offsets[seq_id]}; a protein has one numbering (its "
                "tables, figures and list): give the same number in both, or only one of them",
                where)
        specs[seq_id] = spec
    return specs


# -- reading and checking -----------------------------------------------------------------------
def _separator(path: Path, separator: str | None) -> str:
    if separator:
        return "\t" if separator in ("\\t", "tab") else separator
    if path.suffix.lower() in (".tsv", ".tab", ".txt"):
        return "\t"
    try:  # a tab-separated file named .csv (spreadsheet exports): its header has tabs, no comma
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return ","
    return "\t" if "\t" in header and "," not in header else ","


def parse_mutant(text: str) -> list[tuple[str, int, str]]:
    """'A25G:K40R' -> [('A', 25, 'G'), ('K', 40, 'R')], 'F-5A:S0A' -> [('F', -5, 'A'), ('S', 0, 'A')]
    (what the tables' ``mutant`` column holds); ValueError with the reason if malformed."""
    text = str(text).strip()
    if not text:
        raise ValueError("empty mutant")
    out = []
    for part in text.split(":"):
        m = _MUTATION.match(part.strip())
        if not m:
            raise ValueError(
                f"malformed mutation '{part}' (expected wild type, residue number, substitution, "
                "like A25G or F-5A; multi-mutants joined by ':')"
            )
        wt, number, mt = m.group(1).upper(), int(m.group(2)), m.group(3).upper()
        if mt not in AMINO_ACIDS:
            raise ValueError(f"'{part}': the substitution '{mt}' is not one of the 20 amino acids")
        out.append((wt, number, mt))
    return out


def _offset_hint(numbers: np.ndarray, wts: np.ndarray, sequence: str) -> str:
    """' ; with offset N every wild type matches' when some offset would fit them all."""
    seq = np.frombuffer(sequence.encode("ascii"), dtype="S1")
    wts = wts.astype("S1")
    L = len(seq)
    fits = []
    lo, hi = int(numbers.max()) - L + 1, int(numbers.min())
    for offset in range(lo, hi + 1):
        idx = numbers - offset
        if np.array_equal(seq[idx], wts):
            fits.append(offset)
            if len(fits) > 3:
                break
    if not fits or len(fits) > 3:
        return ""
    return f"; with offset {' or '.join(map(str, fits))} every wild-type residue would match"


def experimental_values(values: pd.Series, file: str, column: str) -> np.ndarray:
    """Text cells -> floats; empty/NA cells -> NaN; anything else non-numeric is an InputError."""
    text = values.astype(str).str.strip()
    missing = text.str.lower().isin(MISSING)
    numbers = pd.to_numeric(text.where(~missing, None), errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"row {i + 1}: the experimental value {text.iloc[i]!r} in column '{column}' is not a "
            f"number ({int(bad.sum())} such row(s); leave a cell empty or NA for 'not measured')",
            file,
        )
    return numbers.to_numpy(dtype=float)


def read_variants(spec: VariantSpec, protein: Protein) -> VariantList:
    """Read one variant file and check every row against the sequence: each cell through
    :func:`esm1v_scan.inputs.hgvs.parse`, each reference residue against ``protein`` numbered from the
    list's offset; the rows' plans say how each is scored (see the module docstring)."""
    path = Path(spec.path)
    file = str(path)
    if not path.exists():
        raise InputError(f"variant file for '{spec.id}' not found", file)
    try:
        df = pd.read_csv(path, sep=_separator(path, spec.separator), dtype=str,
                         keep_default_na=False, encoding="utf-8-sig")  # utf-8-sig: Excel's BOM
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the variant file: {str(err).splitlines()[0]}", file) from None
    return from_table(spec, df, protein)


def from_table(spec: VariantSpec, df: pd.DataFrame, protein: Protein) -> VariantList:
    """A variant list from rows already in memory (every cell text): the checks and plans of
    :func:`read_variants`, which calls this after reading the file. Annotated VCFs use it with a
    one-column table of HGVS p. texts (:mod:`esm1v_scan.inputs.vcf`), so their entries score
    exactly as a mutation list's rows."""
    file = str(spec.path)
    if spec.mutant_column not in df.columns:
        cols = ", ".join(f"'{c}'" for c in list(df.columns)[:12])
        hint = ("; only one column was found: set separator for this file (not comma-separated?) "
                "or mutant_column"
                if len(df.columns) == 1 else "; set mutant_column for this file")
        raise InputError(f"no column '{spec.mutant_column}' (the mutant column; columns found: {cols})"
                         f"{hint}", file)
    if df.empty:
        raise InputError("the variant file has no rows", file)
    for col in df.columns:
        if col.startswith("score_esm1v") or col in (ENSEMBLE_COLUMN, *ADDED_COLUMNS):
            raise InputError(f"the column '{col}' would be overwritten by the scores; rename it", file)

    L, offset = protein.length, spec.offset
    texts = df[spec.mutant_column]
    rows: list[tuple[Mutation, ...]] = []
    variants: list[hgvs.ProteinVariant] = []
    plans: list[RowPlan] = []
    prefixes = _Prefixes(spec.id, file)
    for i, text in enumerate(texts, start=1):
        where = f"row {i} (mutant '{text}')"
        if not str(text).strip():
            raise InputError(f"{where}: empty mutant", file)
        try:
            variant = hgvs.parse(text)
        except InputError as err:
            raise InputError(f"{where}: malformed mutation {err.problem}", file) from None
        prefixes.check(variant, i, where)
        _check_residues(variant, protein, offset, where, file, texts)
        variants.append(variant)
        muts, plan = row_plan(variant, offset)
        rows.append(muts)
        plans.append(plan)
    reference_warnings = prefixes.warnings()

    score_column = spec.score_column
    if score_column is not None and score_column not in df.columns:
        raise InputError(f"no column '{score_column}' (score_column; columns found: "
                         f"{', '.join(map(repr, list(df.columns)[:12]))})", file)
    if score_column is None and DEFAULT_SCORE_COLUMN in df.columns:
        score_column = DEFAULT_SCORE_COLUMN
    experimental = None if score_column is None else experimental_values(df[score_column], file, score_column)
    label = binary_label_spec(spec, df, score_column, file)
    label_values(label, df, experimental, file)  # checked now: a bad cell stops the run here
    warnings = reference_warnings + duplicate_warnings(variants, rows, file)
    return VariantList(spec, df, rows, score_column, experimental, warnings, variants, plans,
                       L, label)


def binary_label_spec(spec: VariantSpec, df: pd.DataFrame, score_column: str | None,
                      file: str) -> dict:
    """The binary label of a list's evaluation (auc, mcc): ``{"column": bin_column}`` or
    ``{"cutoff": cutoff}`` as configured, else ``{"column": "DMS_score_bin"}`` when the file has
    that column, else ``{}`` (no label). A label needs experimental values to evaluate."""
    if spec.bin_column is not None:
        if spec.bin_column not in df.columns:
            raise InputError(f"no column '{spec.bin_column}' (bin_column; columns found: "
                             f"{', '.join(map(repr, list(df.columns)[:12]))})", file)
        label = {"column": spec.bin_column}
    elif spec.cutoff is not None:
        label = {"cutoff": spec.cutoff}
    elif DEFAULT_BIN_COLUMN in df.columns:
        label = {"column": DEFAULT_BIN_COLUMN}
    else:
        return {}
    if score_column is None and (spec.bin_column is not None or spec.cutoff is not None):
        raise InputError(f"{'bin_column' if spec.bin_column is not None else 'cutoff'} is set "
                         "but the file has no experimental values to evaluate (set score_column)",
                         file)
    return label


def label_values(label: dict, table: pd.DataFrame, experimental: np.ndarray | None,
                 file: str) -> np.ndarray | None:
    """The binary label per row (1.0, 0.0, NaN = not measured), or None without one.
    ``{"cutoff": c}``: 1 where the experimental value is >= c. ``{"column": name}``: the column's
    cells, each 0 or 1 (empty or NA: not measured); anything else is an InputError naming the
    row."""
    if "cutoff" in label:
        exp = np.asarray(experimental, dtype=float)
        return np.where(np.isfinite(exp), (exp >= label["cutoff"]).astype(float), np.nan)
    if "column" not in label:
        return None
    column = label["column"]
    text = table[column].astype(str).str.strip()
    missing = text.str.lower().isin(MISSING)
    numbers = pd.to_numeric(text.where(~missing, None), errors="coerce")
    bad = ~missing & ~numbers.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"row {i + 1}: the label {text.iloc[i]!r} in column '{column}' is not 0 or 1 "
            f"({int(bad.sum())} such row(s); the binary label is 1 = functional, 0 = not; leave a "
            "cell empty or NA for 'not measured')", file)
    return numbers.to_numpy(dtype=float)


def describe_label(label: dict, score_column: str | None) -> str:
    """The label's definition in words, for evaluation.tsv: 'DMS_score_bin', '2500 >= -0.5'."""
    if "cutoff" in label:
        return f"{score_column} >= {label['cutoff']:g}"
    return label.get("column", "")


def row_plan(variant: hgvs.ProteinVariant, offset: int) -> tuple[tuple[Mutation, ...], RowPlan]:
    """One checked variant's substitutions (synonymous ones included; () for other types) and how
    it is scored: what :func:`from_table` keeps per row (annotated VCFs call it per distinct
    variant to find their sites without building a table per protein)."""
    muts: tuple[Mutation, ...] = ()
    if variant.substitutions_only and variant.variant_type != "start_lost":
        muts = tuple(Mutation(x.wt, x.number, x.mt, x.position)
                     for x in hgvs.sites(variant, offset))
    return muts, _plan(variant, muts, offset)


def _plan(variant: hgvs.ProteinVariant, muts: tuple[Mutation, ...], offset: int) -> RowPlan:
    """How a checked variant is scored."""
    vtype = variant.variant_type
    if vtype == "synonymous":
        return RowPlan("synonymous")
    if muts:
        return RowPlan("sites")
    if vtype in REASONS:  # frameshift, start loss, stop loss: alone or in an allele
        return RowPlan("not_scored", reason=REASONS[vtype])
    if variant.multi_site:
        return RowPlan("not_scored", reason=REASONS["multi_site"])
    if vtype in ("missense", "multi_missense"):  # to Sec (U) or Pyl (O): no column in a scan
        return RowPlan("not_scored", reason=REASONS["nonstandard_residue"])
    edit = variant.edits[0]
    if vtype == "stop_gained":
        return RowPlan("stop", stop=edit.start - offset + 1)
    if vtype in INDEL_TYPES:
        return RowPlan("indel", event=(edit.start - offset + 1, edit.end - offset + 1))
    raise ValueError(f"{variant.hgvs_p}: no scoring for a {vtype} variant")  # not reached


def _check_residues(variant: hgvs.ProteinVariant, protein: Protein, offset: int, where: str,
                    file: str, texts: pd.Series) -> None:
    """Every residue a variant names, against the sequence, in one line naming the row; a wrong
    wild type says which offset would make every row of the file match, when one does."""
    seq, L = protein.sequence, protein.length
    last = offset + L - 1
    for edit in variant.edits:
        named = [(edit.start, edit.start_ref)] + ([(edit.end, edit.end_ref)]
                                                  if edit.end != edit.start else [])
        for number, ref in named:
            if ref == "*":
                continue  # the stop (an extension): hgvs.check below
            if number < offset:
                raise InputError(
                    f"{where}: residue number {number} is before the sequence's first residue, "
                    f"numbered {offset} (offset)", file)
            if number > last:
                raise InputError(
                    f"{where}: residue number {number} is beyond the sequence's last residue, "
                    f"numbered {last} ({L} residues, first numbered {offset})", file)
            if seq[number - offset] != ref:
                every = list(_all_parsed(texts))
                nums = np.array([n for n, _ in every])
                wts = np.array([w for _, w in every])
                raise InputError(
                    f"{where}: wild-type mismatch at residue {number}: the variant expects {ref}, "
                    f"the sequence '{protein.id}' has {seq[number - offset]} (offset {offset}: the "
                    f"first residue is numbered {offset}){_offset_hint(nums, wts, seq)}", file)
    if any("*" in (e.start_ref, e.end_ref) for e in variant.edits):
        hgvs.check(variant, seq, offset, where, file, protein.id)


def _all_parsed(column: pd.Series):
    """(residue number, reference residue) of every readable variant of the file (for the
    offset hint); unreadable rows and stops skipped."""
    for text in column:
        try:
            variant = hgvs.parse(text)
        except InputError:
            continue
        for e in variant.edits:
            yield from ((n, r) for n, r in ((e.start, e.start_ref), (e.end, e.end_ref)) if r != "*")


#: Accession patterns of protein records (RefSeq, Ensembl, UniProt): a prefix and a FASTA id of
#: the same kind that differ name two different sequences.
_ACCESSION_KINDS = (
    (re.compile(r"([NXYWA]P_)\d+"), "RefSeq {}"),
    (re.compile(r"(ENS[A-Z]*P)\d+"), "Ensembl {}"),
    (re.compile(r"(?:[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})"
                r"(?:-\d+)?"), "UniProt"),
)


def accession_kind(text: str) -> str | None:
    """'NP_000537.3' -> 'RefSeq NP_', 'ENSP00000269305.4' -> 'Ensembl ENSP', 'P04637' ->
    'UniProt'; None for anything else (gene names, transcripts, free text)."""
    text = re.sub(r"\.\d+$", "", re.sub(r"\([^()]*\)$", "", str(text).strip()))
    for pattern, kind in _ACCESSION_KINDS:
        m = pattern.fullmatch(text)
        if m:
            return kind.format(*m.groups())
    return None


class _Prefixes:
    """Reference-sequence prefixes of one file against its FASTA record: one naming the record is
    fine; one naming another accession of the same kind is an error; others are ignored with one
    warning for the file."""

    def __init__(self, seq_id: str, file: str):
        self.seq_id, self.file = seq_id, file
        self.kinds = {k for k in map(accession_kind, {seq_id, *seq_id.split("|")}) if k}
        self.ignored: dict[str, int] = {}  # prefix -> first row
        self.n_ignored = 0

    def check(self, variant: hgvs.ProteinVariant, row: int, where: str) -> None:
        ref = variant.reference
        if not ref or hgvs.names_sequence(ref, self.seq_id):
            return
        kind = accession_kind(ref)
        if kind is not None and kind in self.kinds:
            raise InputError(
                f"{where}: the reference sequence '{ref}' is not this list's sequence "
                f"'{self.seq_id}' (both {kind} accessions): is the list for another protein? "
                "Drop the prefix only if the residues are numbered on this sequence", self.file)
        self.ignored.setdefault(ref, row)
        self.n_ignored += 1

    def warnings(self) -> list[str]:
        if not self.ignored:
            return []
        shown = ", ".join(f"'{r}' (row {i})" for r, i in list(self.ignored.items())[:3])
        more = f" and {len(self.ignored) - 3} more" if len(self.ignored) > 3 else ""
        return [f"{self.file}: {self.n_ignored} row(s) name a reference sequence that is not "
                f"'{self.seq_id}' ({shown}{more}): prefix ignored, residues checked against "
                f"'{self.seq_id}'"]


def duplicate_warnings(variants: list[hgvs.ProteinVariant], rows: list[tuple[Mutation, ...]],
                       file: str, show: int = 5) -> list[str]:
    """One line naming the rows that list the same variant (kept: see the module docstring).
    Substitutions are the same in any order; other variants by their normalised HGVS."""
    seen: dict = {}
    labels: dict = {}
    for i, (variant, muts) in enumerate(zip(variants, rows), start=1):
        key = frozenset((m.site, m.mt) for m in muts) if muts else variant.hgvs_p
        seen.setdefault(key, []).append(i)
        labels.setdefault(key, ":".join(map(str, muts)) if muts else variant.hgvs_p)
    dups = [(labels[k], r) for k, r in seen.items() if len(r) > 1]
    if not dups:
        return []
    listed = "; ".join(f"{label} in rows {', '.join(map(str, r))}" for label, r in dups[:show])
    more = f"; and {len(dups) - show} more" if len(dups) > show else ""
    return [f"{file}: {len(dups)} variant(s) listed more than once, all rows kept and scored: "
            f"{listed}{more}"]


# -- in-frame indels (rule indels) ---------------------------------------------------------------


# -- scores -------------------------------------------------------------------------------------
