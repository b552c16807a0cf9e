"""The annotated VCF's outputs (``results/vcf/``): scores per entry, the VCF with ESM-1v INFO
fields (BGZF + tabix ``.tbi``), the per-entry TSV and the summary.

Scores: :func:`score_entries` scores each planned protein's variant list with
:func:`esm1v_scan.scoring.variant_scores.score_variants`, the function that scores mutation lists,
and maps the rows back to the entries by (key, hgvs_p): an entry's numbers are those of the same
variant in a protein-level run.

The VCF (:func:`write_vcf`) is the input, record for record and in input order, read as bytes and
written in one streaming pass; a record without entries is copied byte for byte, a record with
entries gets two INFO keys appended and nothing else changes (a VCF annotated before: its ESM1v
declarations and keys are replaced, in every record):

- ``ESM1v`` (Number=., String): one entry per (ALT, transcript) scored or flagged,
  ``Allele|Feature|Protein|HGVSp|Consequence|variant_type|score|score_<model>...|flag`` with the
  ALT as written in the VCF, the ensemble score, one score per model (empty when not scored) and
  the flag (empty when scored). Values are percent-encoded as VCF 4.3 asks (``%`` ``%25``, ``;``
  ``%3B``, ``=`` ``%3D``, ``,`` ``%2C``, ``|`` ``%7C``, space ``%20``, tab, CR, LF, ``:``).
- ``ESM1v_score`` (Number=A, Float): per ALT, the score of its chosen transcript among those
  scored: the MANE Select ones first, else the canonical ones, else all; within that group the
  lowest score (a gene-level choice as gnomAD's ``*_max`` for REVEL, worst case within the group).
  ``.`` for an ALT with no scored entry; the key is left out when no ALT has one.

Multi-allelic records are annotated, not passed through: every ALT has its own entries (matched
by the annotation's Allele, :mod:`esm1v_scan.inputs.vcf`) and its own ESM1v_score value.
Records without annotation, with non-coding consequences only, or with symbolic ALTs only
(``<DEL>``) have no entries and are copied unchanged.

Scores are written with 6 significant digits in the VCF (the TSV keeps full precision).
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from esm1v_scan.errors import InputError
from esm1v_scan.files import atomic_write, temp_name
from esm1v_scan.inputs import hgvs
from esm1v_scan.inputs.fasta import GZIP_MAGIC, Protein
from esm1v_scan.inputs.variant_lists import ENSEMBLE_COLUMN, NOT_SCORED, VariantSpec, from_table
from esm1v_scan.inputs.vcf import ENTRY_COLUMNS, FLAGS, VcfPlan
from esm1v_scan.scoring.variant_scores import score_variants

#: The TSV's columns before and after the per-model scores.
TSV_COLUMNS = ["chrom", "pos", "ref", "alt", "symbol", "feature", "protein", "hgvs_p",
               "consequence", "variant_type", "score"]
INFO_ENTRIES, INFO_SCORE = "ESM1v", "ESM1v_score"
#: VCF 4.3 percent-encoding of INFO values; '%' first.
_ESCAPES = [("%", "%25"), (";", "%3B"), ("=", "%3D"), (",", "%2C"), ("|", "%7C"), (" ", "%20"),
            ("\t", "%09"), ("\r", "%0D"), ("\n", "%0A"), (":", "%3A")]
_TIERS = ("mane", "canonical")


def escape(value) -> str:
    """One INFO sub-field value, percent-encoded (``p.Ala25=`` -> ``p.Ala25%3D``)."""
    text = "" if value is None else str(value)
    for raw, code in _ESCAPES:
        if raw in text:
            text = text.replace(raw, code)
    return text


def _number(x) -> str:
    return "" if x is None or not math.isfinite(x) else format(float(x), ".6g")


# -- scores -------------------------------------------------------------------------------------
def score_entries(plan: VcfPlan, tables: dict[str, pd.DataFrame], models: list[str],
                  indels: dict[str, dict[str, pd.DataFrame]] | None, exact: bool,
                  indel_reason: str | None, *, batch: bool = True) -> pd.DataFrame:
    """``plan.entries`` + ``score`` (the ensemble), ``score_<model>`` per model and ``scoring``.

    ``tables``: key -> that protein's rows of its shard's ensemble table (position, mt,
    score_<model>, score_mean); ``indels``: key -> model -> indel table (rule indels), None under
    the BioLM backend (``indel_reason`` says why they are not scored: their entries get the flag
    ``indel_not_scored``). Flagged entries keep their flag, empty scores and ``scoring`` =
    ``not_scored: <flag>``.

    Every value comes from :func:`~esm1v_scan.scoring.variant_scores.score_variants`. Proteins
    with stop-gains or indels get one call each, with their own variant list. ``batch``: the
    proteins whose variants are all substitutions (missense, synonymous, multi-missense: the bulk
    of a cohort) share ONE call, their sequences joined end to end and their residue numbers
    shifted by each protein's start in the join, so each lookup reads the same (position, mt) row
    of the same protein's table and each score is the same number (a lookup, or a sum of lookups
    in the order written); a call per protein costs ~20 ms of pandas, minutes for 20,000
    proteins."""
    model_cols = [f"score_{m}" for m in models]
    needs = plan.indels()
    missing_table = [k for k in plan.proteins if k not in tables]
    if missing_table:
        raise ValueError(f"no score table for the protein '{missing_table[0]}' of VCF "
                         f"'{plan.name}' ({len(missing_table)} protein(s) without one)")
    simple: list[str] = []
    if batch:
        ok = plan.entries[plan.entries["flag"] == ""]
        kinds = ok.groupby("key", sort=False)["variant_type"].agg(
            lambda t: set(t) <= _SUBSTITUTION_TYPES)
        simple = [k for k in plan.proteins if k not in needs and kinds.get(k, False)]
    parts = [_joined(plan, tables, models, simple)] if simple else []
    done = set(simple)
    for key in plan.variant_lists:
        if key in done:
            continue
        key_indels = None if indels is None else indels.get(key)
        if needs.get(key) and key_indels is None and indels is not None and not indel_reason:
            raise ValueError(f"no indel tables for the protein '{key}' of VCF '{plan.name}'")
        res = score_variants(plan.variant_lists[key], tables[key], models, key_indels, exact,
                             indel_reason)
        part = res[["hgvs_p", ENSEMBLE_COLUMN, *model_cols, "scoring"]].copy()
        part.insert(0, "key", key)
        parts.append(part)
    if parts:
        values = pd.concat(parts, ignore_index=True).rename(columns={ENSEMBLE_COLUMN: "score"})
    else:
        values = pd.DataFrame(columns=["key", "hgvs_p", "score", *model_cols, "scoring"])
    values = values.drop_duplicates(["key", "hgvs_p"])
    entries = plan.entries[ENTRY_COLUMNS]
    out = entries.merge(values, how="left", on=["key", "hgvs_p"], sort=False,
                        validate="many_to_one")
    out.index = entries.index
    for col in ["score", *model_cols]:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    flagged = out["flag"] != ""
    out.loc[flagged, ["score", *model_cols]] = np.nan
    out["scoring"] = out["scoring"].fillna("").astype(str)
    out.loc[flagged, "scoring"] = NOT_SCORED + ": " + out.loc[flagged, "flag"]
    left = ~flagged & out["scoring"].str.startswith(NOT_SCORED)
    out.loc[left, "flag"] = "indel_not_scored"
    missing = ~flagged & ~left & out["score"].isna()
    if missing.any():
        row = out[missing].iloc[0]
        raise ValueError(f"no score for {row['key']} {row['hgvs_p']} (VCF '{plan.name}')")
    return out[[*ENTRY_COLUMNS, "score", *model_cols, "scoring"]]


_SUBSTITUTION_TYPES = frozenset({"missense", "synonymous", "multi_missense"})


def _joined(plan: VcfPlan, tables: dict[str, pd.DataFrame], models: list[str],
            keys: list[str]) -> pd.DataFrame:
    """Substitution-only proteins scored by one score_variants call (see score_entries)."""
    texts = plan.texts()
    start, at, sequences = {}, 0, []
    shifted, back = [], []
    for key in keys:
        start[key] = at
        for text in texts[key]:
            variant = hgvs.parse(text)
            shifted.append(":".join(f"{e.start_ref}{e.start + at}{e.alt}" for e in variant.edits))
            back.append((key, text))
        sequences.append(plan.proteins[key])
        at += len(plan.proteins[key])
    joined = Protein("joined", "joined", "".join(sequences))
    vl = from_table(VariantSpec("joined", plan.path, 1, "mutant"),
                    pd.DataFrame({"mutant": shifted}, dtype=str), joined)
    table = pd.concat([tables[k].assign(position=tables[k]["position"].to_numpy() + start[k])
                       for k in keys], ignore_index=True)
    res = score_variants(vl, table, models)
    model_cols = [f"score_{m}" for m in models]
    part = res[[ENSEMBLE_COLUMN, *model_cols, "scoring"]].copy()
    part.insert(0, "hgvs_p", [t for _, t in back])
    part.insert(0, "key", [k for k, _ in back])
    return part


def chosen_scores(scored: pd.DataFrame) -> dict[tuple[int, int], float]:
    """(record, allele) -> ESM1v_score: among the allele's scored entries, the MANE Select ones,
    else the canonical ones, else all; the lowest score of that group."""
    ok = scored[scored["score"].notna()]
    tier = np.where(ok["mane"], 0, np.where(ok["canonical"], 1, 2))
    frame = pd.DataFrame({"record": ok["record"].to_numpy(), "allele": ok["allele"].to_numpy(),
                          "tier": tier, "score": ok["score"].to_numpy(dtype=float)})
    frame = frame.sort_values(["record", "allele", "tier", "score"], kind="stable")
    best = frame.drop_duplicates(["record", "allele"])
    return {(int(r), int(a)): float(s) for r, a, s in
            zip(best["record"], best["allele"], best["score"])}


# -- the VCF ------------------------------------------------------------------------------------
def info_header(models: list[str]) -> list[str]:
    """The two ##INFO lines the output VCF gains."""
    fields = "|".join(["Allele", "Feature", "Protein", "HGVSp", "Consequence", "variant_type",
                       "score", *(f"score_{m}" for m in models), "flag"])
    return [
        f'##INFO=<ID={INFO_ENTRIES},Number=.,Type=String,Description="ESM-1v scores (esm1v-scan) '
        "per ALT allele and transcript: score is the ensemble log-likelihood ratio of mutant "
        "against wild type (natural log, masked marginals; stop-gains the lowest substitution "
        "downstream; in-frame indels PLLR; synonymous 0); flag says why an entry is not scored. "
        f'Format: {fields}">',
        f'##INFO=<ID={INFO_SCORE},Number=A,Type=Float,Description="ESM-1v ensemble score per ALT '
        "allele (esm1v-scan): its MANE Select transcript, else canonical, else the lowest score "
        'among its scored transcripts">',
    ]


def _record_info(scored: pd.DataFrame, models: list[str]) -> dict[int, tuple[str, dict]]:
    """record -> (the ESM1v value, {allele: chosen score})."""
    model_cols = [f"score_{m}" for m in models]
    cols = ["record", "allele", "alt", "feature", "protein", "hgvs_p", "consequence",
            "variant_type", "score", *model_cols, "flag"]
    entries: dict[int, list[str]] = {}
    for row in scored[cols].itertuples(index=False, name=None):
        record, values = row[0], row[2:]
        text = "|".join([escape(v) for v in values[:6]]
                        + [_number(v) for v in values[6:-1]] + [escape(values[-1])])
        entries.setdefault(int(record), []).append(text)
    chosen: dict[int, dict[int, float]] = {}
    for (record, allele), score in chosen_scores(scored).items():
        chosen.setdefault(record, {})[allele] = score
    return {r: (",".join(e), chosen.get(r, {})) for r, e in entries.items()}


def _lines(path):
    """Lines of a plain or gzip/bgzip file, as bytes with their newline."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    opener = gzip.open if magic == GZIP_MAGIC else open
    with opener(path, "rb") as fh:
        yield from fh


def _strip_keys(info: str) -> str:
    keep = [kv for kv in info.split(";")
            if kv.split("=", 1)[0] not in (INFO_ENTRIES, INFO_SCORE) and kv]
    return ";".join(keep)


def write_vcf(plan: VcfPlan, scored: pd.DataFrame, out_path, models: list[str],
              header_lines: list[str]) -> None:
    """Write the input VCF with ``ESM1v`` and ``ESM1v_score`` (see the module docstring) to
    ``out_path`` (BGZF) and its tabix index ``out_path + '.tbi'``, in one streaming pass; both
    appear complete or not at all. ``header_lines``: ``##key=value`` lines recording the run
    (version, commit, models, weights, strategy, the protein FASTA's sha256), placed before
    ``#CHROM``; earlier ESM1v INFO declarations and ``##esm1v_scan`` lines are replaced."""
    import pysam
    from pysam.libcbgzf import BGZFile

    for line in header_lines:
        if not line.startswith("##") or "\n" in line:
            raise ValueError(f"a VCF header line must start with '##' and be one line: {line!r}")
    out_path = Path(out_path)
    index_path = Path(str(out_path) + ".tbi")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    per_record = _record_info(scored, models)
    ours = [(f"##INFO=<ID={INFO_ENTRIES},").encode(), (f"##INFO=<ID={INFO_SCORE},").encode(),
            b"##esm1v_scan"]
    added = "".join(f"{h}\n" for h in info_header(models) + list(header_lines)).encode()

    tmp, tmp_index = temp_name(out_path), temp_name(index_path)
    try:
        record = -1
        stale = False  # the input declares ESM1v keys: drop them from every record
        buffer: list[bytes] = []
        size = 0
        with BGZFile(str(tmp), "wb") as out:
            for raw in _lines(plan.path):
                line = raw.rstrip(b"\r\n")
                if not line:
                    continue
                if line[:1] == b"#":
                    if line.startswith(b"#CHROM"):
                        buffer.append(added)
                    elif any(line.startswith(p) for p in ours):
                        stale = stale or line.startswith(b"##INFO")
                        continue
                    buffer.append(line + b"\n")
                else:
                    record += 1
                    mine = per_record.get(record)
                    if mine is not None:
                        line = _annotate(line, *mine)
                    elif stale:
                        line = _annotate(line, "", {})
                    buffer.append(line + b"\n")
                size += len(buffer[-1])
                if size > 1 << 20:
                    out.write(b"".join(buffer))
                    buffer, size = [], 0
            out.write(b"".join(buffer))
        if record + 1 != plan.counts.get("records", record + 1):
            raise ValueError(f"{plan.path}: {record + 1} records, the plan has "
                             f"{plan.counts['records']} (the VCF changed after planning)")
        try:
            pysam.tabix_index(str(tmp), preset="vcf", index=str(tmp_index), force=True)
        except (OSError, ValueError) as err:
            raise InputError(f"cannot index the annotated VCF ({err}); is the input sorted by "
                             "chromosome and position? (bcftools sort)", plan.path) from None
        os.replace(tmp, out_path)
        os.replace(tmp_index, index_path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_index.unlink(missing_ok=True)


def _annotate(line: bytes, entries: str, chosen: dict[int, float]) -> bytes:
    cols = line.split(b"\t", 8)
    alts = cols[4].count(b",") + 1
    info = _strip_keys(cols[7].decode("utf-8", "surrogateescape"))
    info = "" if info == "." else info
    add = f"{INFO_ENTRIES}={entries}" if entries else ""
    if chosen:
        add += f";{INFO_SCORE}=" + ",".join(_number(chosen[a]) if a in chosen else "."
                                            for a in range(1, alts + 1))
    info = ";".join(x for x in (info, add) if x) or "."
    cols[7] = info.encode("utf-8", "surrogateescape")
    return b"\t".join(cols)


# -- tables -------------------------------------------------------------------------------------
def write_entries_tsv(scored: pd.DataFrame, out_path) -> None:
    """One row per allele x transcript: chrom, pos, ref, alt, symbol, feature, protein, hgvs_p,
    consequence, variant_type, score, score_<model>..., flag (scores at full precision, empty
    when not scored)."""
    models = [c for c in scored.columns if c.startswith("score_")]
    table = scored[[*TSV_COLUMNS, *models, "flag"]]
    with atomic_write(out_path, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, sep="\t", index=False, na_rep="")


def write_summary(plan: VcfPlan, scored: pd.DataFrame, out_path) -> None:
    """``item``, ``count``, ``description``: records, alleles, symbolic alleles, records without
    annotation, entries, protein-altering entries, synonymous, scored, then not scored by reason
    (one row per flag present)."""
    c = plan.counts
    flags = scored.loc[scored["flag"] != "", "flag"].value_counts()
    rows = [
        ("records", c.get("records", 0), "data lines of the VCF"),
        ("alleles", c.get("alleles", 0), "ALT alleles"),
        ("symbolic_alleles", c.get("symbolic_alleles", 0),
         "symbolic ALT alleles (<DEL>, breakends, *): passed through"),
        ("records_without_annotation", c.get("records_without_annotation", 0),
         f"records without {plan.annotation}: passed through"),
        ("entries", len(scored), "allele x transcript entries with a protein-level consequence"),
        ("protein_altering", int((scored["variant_type"] != "synonymous").sum()),
         "entries other than synonymous"),
        ("synonymous", int((scored["variant_type"] == "synonymous").sum()),
         "synonymous entries (score 0)"),
        ("scored", int(scored["score"].notna().sum()), "entries with a score"),
    ]
    rows += [(f"not_scored_{flag}", int(n), FLAGS.get(flag, flag))
             for flag, n in sorted(flags.items())]
    table = pd.DataFrame(rows, columns=["item", "count", "description"])
    with atomic_write(out_path, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, sep="\t", index=False)
