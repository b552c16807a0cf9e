"""Annotated VCFs: header parsing, entries and flags, protein lookup, the plan cache, scores equal
to a mutation list's, and the written VCF read back with pysam and bcftools."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vcf_fixtures as fx
from conftest import required_tool
from esm1v_scan.errors import InputError
from esm1v_scan.inputs import vcf
from esm1v_scan.inputs.variant_lists import VariantSpec, read_variants
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.outputs import vcf_files
from esm1v_scan.scoring.variant_scores import score_variants

MODELS = ["m1", "m2"]
AA = "ACDEFGHIKLMNPQRSTVWY"


def test_imports_this_checkout():
    assert Path(vcf.__file__).resolve().parents[3] == Path(__file__).resolve().parents[1]


def _entry_tuples(plan):
    cols = ["record", "allele", "feature", "hgvs_p", "variant_type", "key", "flag"]
    return [tuple(r) for r in plan.entries[cols].itertuples(index=False)]


# -- header -------------------------------------------------------------------------------------
def test_header_lines_give_field_order():
    vep = vcf.parse_header_line(
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl '
        'VEP. Format: Allele|Consequence|Feature|HGVSp">')
    assert (vep.tag, vep.tool, vep.fields) == ("CSQ", "vep",
                                               ("Allele", "Consequence", "Feature", "HGVSp"))
    ann = vcf.parse_header_line(
        "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | "
        "Annotation | Feature_ID | HGVS.p | AA.pos / AA.length' \">")
    assert ann.tool == "snpeff" and ann.fields == ("Allele", "Annotation", "Feature_ID", "HGVS.p",
                                                   "AA.pos / AA.length")
    assert vcf.parse_header_line('##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">') is None


def _reorder_csq(src: Path, dst: Path) -> None:
    """The same VCF with the CSQ fields declared and written in reverse order."""
    out = []
    for line in src.read_text().splitlines():
        if line.startswith("##INFO=<ID=CSQ"):
            line = line.replace("|".join(fx.CSQ_FIELDS), "|".join(reversed(fx.CSQ_FIELDS)))
        elif not line.startswith("#") and ";CSQ=" in line:
            cols = line.split("\t")
            head, csq = cols[7].split(";CSQ=")
            csq = ",".join("|".join(reversed(e.split("|"))) for e in csq.split(","))
            cols[7] = f"{head};CSQ={csq}"
            line = "\t".join(cols)
        out.append(line)
    dst.write_text("\n".join(out) + "\n")


# -- planning the fixtures ----------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_vep_plan_entries_and_counts(tmp_path, gz):
    case = fx.write_vep_case(tmp_path, gz=gz)
    warnings = []
    plan = vcf.plan_vcf("cohort", case.vcf, case.proteins, warn=warnings.append)
    assert plan.annotation == "CSQ"
    assert _entry_tuples(plan) == fx.EXPECTED
    assert plan.counts == {"records": 13, "alleles": 14, "symbolic_alleles": 1,
                           "records_without_annotation": 1, "entries": 14,
                           "protein_altering": 13, "synonymous": 1, "scored": 11,
                           "not_scored_frameshift": 1, "not_scored_protein_not_found": 1,
                           "not_scored_reference_mismatch": 1}
    # deduplicated by sequence: ENSP...3 is ENSP...1's sequence
    assert list(plan.proteins) == ["ENSP00000000001.1", "ENSP00000000002.1", "ENSP00000000004.1"]
    assert plan.proteins["ENSP00000000001.1"] == fx.SEQ_A
    pos = plan.positions()
    assert pos["ENSP00000000001.1"] == [10, *range(100, 131)]  # missense 10, stop-gain 100..end
    assert pos["ENSP00000000004.1"] == [30, 40, 41, *range(60, 97)]
    assert plan.indels() == {"ENSP00000000004.1": [fx.EXPECTED[6][3], fx.EXPECTED[7][3]]}
    # MANE and canonical from their fields
    e = plan.entries.set_index(["record", "feature"])
    assert e.loc[(0, "ENST00000000001.5"), "mane"] and e.loc[(0, "ENST00000000001.5"), "canonical"]
    assert not e.loc[(0, "ENST00000000002.1"), "mane"]
    assert not e.loc[(0, "ENST00000000003.2"), "canonical"]
    assert e.loc[(6, "ENST00000000004.3"), "alt"].tolist() == ["A", "T"]
    assert any("reference residue" in w and "residue 70" in w for w in warnings)
    assert any("1 of 5 annotated transcripts" in w and "ENST00000000009.1" in w for w in warnings)


def test_snpeff_plan_same_entries(tmp_path):
    case = fx.write_snpeff_case(tmp_path, gz=True)
    plan = vcf.plan_vcf("cohort", case.vcf, case.proteins)
    assert plan.annotation == "ANN"
    assert _entry_tuples(plan) == fx.EXPECTED
    assert not plan.entries["mane"].any() and not plan.entries["canonical"].any()
    cons = dict(zip(plan.entries["hgvs_p"], plan.entries["consequence"]))
    assert cons[fx.EXPECTED[6][3]] == "conservative_inframe_deletion"
    assert cons[fx.EXPECTED[7][3]] == "disruptive_inframe_insertion"


def test_field_order_from_header(tmp_path):
    case = fx.write_vep_case(tmp_path)
    _reorder_csq(case.vcf, tmp_path / "reordered.vcf")
    plan = vcf.plan_vcf("cohort", tmp_path / "reordered.vcf", case.proteins)
    assert _entry_tuples(plan) == fx.EXPECTED
    assert plan.entries["mane"].sum() == 10  # every entry on ENST...1.5 and ENST...4.3


# -- pieces -------------------------------------------------------------------------------------
@pytest.mark.parametrize("aa,pos,seq,want", [
    ("R/H", "175", None, "p.Arg175His"),
    ("A", "25", None, "p.Ala25="),
    ("K/*", "12", None, "p.Lys12Ter"),
    ("K/-", "12", None, "p.Lys12del"),
    ("KE/K", "12-13", None, "p.Glu13del"),
    ("KEL/-", "12-14", None, "p.Lys12_Leu14del"),
    ("-/GA", "2-3", "MKEL", "p.Lys2_Glu3insGlyAla"),
    ("K/KGA", "2", "MKEL", "p.Lys2_Glu3insGlyAla"),
    ("KE/WV", "2-3", None, "p.Lys2_Glu3delinsTrpVal"),
    ("R/X", "5", None, None),  # frameshift
    ("R/H", "?", None, None),
    ("-/GA", "4-5", "MKEL", None),  # after the last residue: not an insertion between neighbours
])
def test_protein_change_from_amino_acids(aa, pos, seq, want):
    assert vcf.protein_change(aa, pos, seq) == want


def test_allele_forms_follow_vep_trimming():
    # SNVs: as written
    assert vcf.allele_forms("G", ["A", "T"], "vep") == {"A": 1, "T": 2}
    # all alleles share the first base: VEP drops it, '-' for empty
    forms = vcf.allele_forms("AT", ["A", "ATT"], "vep")
    assert forms["-"] == 1 and forms["TT"] == 2 and forms["A"] == 1 and forms["ATT"] == 2
    # VEP's form wins over the minimised one ('T' is ALT 2 minus the shared first base)
    assert vcf.allele_forms("ATT", ["A", "AT"], "vep") == {"-": 1, "T": 2, "A": 1, "AT": 2}
    # first bases differ: nothing trimmed
    assert vcf.allele_forms("A", ["AT", "G"], "vep") == {"AT": 1, "G": 2, "T": 1}


def test_symbolic_alleles():
    assert all(map(vcf.is_symbolic, ["<DEL>", "<*>", "*", ".", "G]17:198982]", "]13:123456]T"]))
    assert not any(map(vcf.is_symbolic, ["A", "AT", "N"]))


def _index(tmp_path, fasta: str, tmap: str | None = None):
    (tmp_path / "p.fa").write_text(fasta)
    if tmap is not None:
        (tmp_path / "map.tsv").write_text(tmap)
    return vcf.read_protein_index(tmp_path / "p.fa", tmp_path / "map.tsv" if tmap else None)


def test_lookup_versions_ignored_only_when_unambiguous(tmp_path):
    idx = _index(tmp_path, ">ENSP1.1 pep transcript:ENST1.4\nMKV\n>ENSP2.1 pep\nMKL\n"
                           ">ENSP2.2 pep\nMKI\n")
    assert idx.protein("ENSP1.1") == "ENSP1.1"
    assert idx.protein("ENSP1.7") == "ENSP1.1"  # one record: version ignored
    assert idx.protein("ENSP2.3") is None  # two versions: ambiguous
    assert idx.protein("ENSP2.2") == "ENSP2.2"
    assert idx.by_transcript("ENST1.4") == "ENSP1.1"
    assert idx.by_transcript("ENST1.5") == "ENSP1.1"
    assert idx.by_transcript("ENST9.1") is None


def test_transcript_map_for_refseq(tmp_path):
    idx = _index(tmp_path, ">NP_000537.3 cellular tumor antigen p53\nMEEP\n",
                 "transcript\tprotein\nNM_000546.6\tNP_000537.3\n")
    assert idx.by_transcript("NM_000546.6") == "NP_000537.3"
    assert idx.by_transcript("NM_000546.5") == "NP_000537.3"


def test_dedup_key_is_first_record_with_sequence(tmp_path):
    idx = _index(tmp_path, ">B.1\nMKV\n>A.1\nMKL\n>C.1\nMKV\n")
    assert idx.key("C.1") == "B.1" and idx.key("A.1") == "A.1" and idx.key("B.1") == "B.1"


def test_escape():
    assert vcf_files.escape("p.Ala25=") == "p.Ala25%3D"
    assert vcf_files.escape("a;b,c|d e%f:g") == "a%3Bb%2Cc%7Cd%20e%25f%3Ag"
    assert vcf_files.escape("missense_variant&splice_region_variant") == \
        "missense_variant&splice_region_variant"


# -- bad input: one line ------------------------------------------------------------------------
def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_no_annotation_in_header(tmp_path):
    case = fx.write_vep_case(tmp_path)
    text = "".join(l for l in case.vcf.read_text().splitlines(True) if "ID=CSQ" not in l)
    (tmp_path / "bare.vcf").write_text(text)
    with pytest.raises(InputError) as err:
        vcf.plan_vcf("x", tmp_path / "bare.vcf", case.proteins)
    msg = _one_line(err)
    assert "bare.vcf" in msg and "--hgvs --protein --canonical --mane_select --symbol" in msg
    assert "SnpEff" in msg


def test_malformed_line_named(tmp_path):
    case = fx.write_vep_case(tmp_path)
    lines = case.vcf.read_text().splitlines()
    lines[-2] = "1\t3400\trs1\tA"
    (tmp_path / "bad.vcf").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        vcf.plan_vcf("x", tmp_path / "bad.vcf", case.proteins)
    assert f"line {len(lines) - 1}:" in _one_line(err) and "at least 8" in str(err.value)


def test_entry_with_wrong_field_count(tmp_path):
    case = fx.write_vep_case(tmp_path)
    text = case.vcf.read_text().replace("|MODERATE|GENEA|", "|MODERATE|GENEA|extra|", 1)
    (tmp_path / "bad.vcf").write_text(text)
    with pytest.raises(InputError) as err:
        vcf.plan_vcf("x", tmp_path / "bad.vcf", case.proteins)
    assert "28 fields, the header declares 27" in _one_line(err)


def test_fasta_lacking_most_transcripts(tmp_path):
    case = fx.write_vep_case(tmp_path)
    (tmp_path / "other.fa").write_text(">ENSP00000000004.1 pep transcript:ENST00000000004.3\n"
                                       + fx.SEQ_B + "\n")
    with pytest.raises(InputError) as err:
        vcf.plan_vcf("x", case.vcf, tmp_path / "other.fa")
    msg = _one_line(err)
    assert "lacks 4 of the 5 transcripts" in msg and "other.fa" in msg


# -- the cache ----------------------------------------------------------------------------------
def test_cached_plan_loads_the_same(tmp_path):
    case = fx.write_vep_case(tmp_path)
    fresh = vcf.cached_plan("cohort", case.vcf, case.proteins, None, tmp_path / "cache")
    folders = list((tmp_path / "cache").iterdir())
    assert len(folders) == 1 and {p.name for p in folders[0].iterdir()} == {"plan.json",
                                                                          "entries.parquet"}
    told = []
    loaded = vcf.cached_plan("cohort", case.vcf, case.proteins, None, tmp_path / "cache",
                             warn=told.append)
    assert told == fresh.warnings and len(told) == 2  # told again from the cache
    assert isinstance(loaded.variant_lists, vcf._LazyLists)  # read back, not planned again
    pd.testing.assert_frame_equal(loaded.entries, fresh.entries)
    assert loaded.positions() == fresh.positions() and loaded.indels() == fresh.indels()
    assert loaded.counts == fresh.counts and loaded.proteins == fresh.proteins
    key = "ENSP00000000004.1"
    assert loaded.variant_lists[key].positions == fresh.variant_lists[key].positions
    # a changed input is a new key
    k1 = vcf.plan_key(case.vcf, case.proteins, None, {"name": "cohort"})
    os.utime(case.vcf, ns=(1, 1))
    assert vcf.plan_key(case.vcf, case.proteins, None, {"name": "cohort"}) != k1
    assert vcf.plan_key(case.vcf, case.proteins, None, {"name": "other"}) != \
        vcf.plan_key(case.vcf, case.proteins, None, {"name": "cohort"})


# -- scores -------------------------------------------------------------------------------------
def _tables(proteins: dict[str, str], seed: int = 3):
    """Ensemble tables from random log-probabilities: score = log p(mt) - log p(wt) per model."""
    rng = np.random.default_rng(seed)
    tables, logps = {}, {}
    for key, seq in proteins.items():
        logp = {m: np.log(rng.dirichlet(np.ones(20), size=len(seq))) for m in MODELS}
        logps[key] = logp
        rows = []
        for i, wt in enumerate(seq):
            for j, mt in enumerate(AA):
                row = {"position": i + 1, "wt": wt, "mt": mt}
                for m in MODELS:
                    row[f"score_{m}"] = logp[m][i, j] - logp[m][i, AA.index(wt)]
                rows.append(row)
        t = pd.DataFrame(rows)
        t["score_mean"] = t[[f"score_{m}" for m in MODELS]].mean(axis=1)
        tables[key] = t
    return tables, logps


def _indels(plan):
    return {k: {m: pd.DataFrame({"hgvs_p": v, "score": [-3.0 - i for i in range(len(v))],
                                 "score_per_residue_delta": [0.5] * len(v)}) for m in MODELS}
            for k, v in plan.indels().items()}


def test_scores_equal_a_mutation_list(tmp_path):
    case = fx.write_vep_case(tmp_path)
    plan = vcf.plan_vcf("cohort", case.vcf, case.proteins)
    tables, logp = _tables(plan.proteins)
    scored = vcf_files.score_entries(plan, tables, MODELS, _indels(plan), False, None)
    s = scored.set_index(["record", "allele", "feature"])

    # by hand, from the log-probabilities: missense at 10 of ENSP...1
    i, mt, wt = 9, fx._MIS_A, fx.SEQ_A[9]
    want = np.mean([logp["ENSP00000000001.1"][m][i, AA.index(mt)]
                     - logp["ENSP00000000001.1"][m][i, AA.index(wt)] for m in MODELS])
    assert s.loc[(0, 1, "ENST00000000001.5"), "score"] == pytest.approx(want, abs=1e-12)
    # the duplicate transcript scores as its key's protein
    assert s.loc[(0, 1, "ENST00000000003.2"), "score"] == s.loc[(0, 1, "ENST00000000001.5"),
                                                                 "score"]
    assert s.loc[(1, 1, "ENST00000000001.5"), "score"] == 0.0  # synonymous
    # stop-gain at 100: the lowest substitution score (mean over models) from 100 to the end
    lp = logp["ENSP00000000001.1"]
    per_site = []
    for i in range(99, len(fx.SEQ_A)):
        w = AA.index(fx.SEQ_A[i])
        per_site += [np.mean([lp[m][i, j] - lp[m][i, w] for m in MODELS])
                     for j in range(20) if j != w]
    assert s.loc[(2, 1, "ENST00000000001.5"), "score"] == pytest.approx(min(per_site), abs=1e-12)
    assert s.loc[(3, 1, "ENST00000000004.3"), "score"] == -3.0  # the indel table's value
    assert s.loc[(3, 1, "ENST00000000004.3"), "scoring"] == "pllr"
    assert np.isnan(s.loc[(5, 1, "ENST00000000004.3"), "score"])
    assert s.loc[(5, 1, "ENST00000000004.3"), "scoring"] == "not_scored: frameshift"

    # the same variants as a mutation list of ENSP...4 scored by score_variants
    key = "ENSP00000000004.1"
    texts = scored.loc[scored["key"] == key, "hgvs_p"].tolist()
    (tmp_path / "list.csv").write_text("mutant\n" + "\n".join(texts) + "\n")
    vl = read_variants(VariantSpec(key, str(tmp_path / "list.csv")),
                       Protein(key, key, fx.SEQ_B))
    ref = score_variants(vl, tables[key], MODELS, _indels(plan)[key])
    mine = scored[scored["key"] == key]
    np.testing.assert_array_equal(mine["score"].to_numpy(), ref["score_ensemble"].to_numpy())
    for m in MODELS:
        np.testing.assert_array_equal(mine[f"score_{m}"].to_numpy(), ref[f"score_{m}"].to_numpy())


@pytest.mark.parametrize("fixture", [fx.write_vep_case, fx.write_snpeff_case])
def test_joined_call_gives_the_same_numbers(tmp_path, fixture, monkeypatch):
    """Substitution-only proteins scored in one joined call: bit for bit the per-protein calls."""
    case = fixture(tmp_path)
    a10, a11 = fx._t(fx.SEQ_A[9]), fx._t(fx.SEQ_A[10])
    # a multi-missense allele on the isoform: a sum of two lookups
    text = case.vcf.read_text().replace(
        f"ENSP00000000002.1:{fx.EXPECTED[1][3]}",
        f"ENSP00000000002.1:p.[{a10}10{fx._t(fx._MIS_A)}%3B{a11}11{fx._t(fx._other(fx.SEQ_A[10]))}]")
    (tmp_path / "m.vcf").write_text(text)
    plan = vcf.plan_vcf("cohort", tmp_path / "m.vcf", case.proteins)
    # drop the stop-gains: every protein but ENSP...4 (indels) is substitution-only
    plan.entries.loc[plan.entries["variant_type"] == "stop_gained", ["flag", "key"]] = ["x", ""]
    texts = {k: [t for t in v if not t.endswith("Ter")] for k, v in plan.texts().items()}
    plan = vcf.VcfPlan(plan.name, plan.path, plan.annotation, plan.proteins,
                       vcf._LazyLists(texts, plan.proteins, plan.path), plan.entries, plan.counts,
                       _indels=plan.indels())
    tables, _ = _tables(plan.proteins)
    seen = []
    real = vcf_files._joined
    monkeypatch.setattr(vcf_files, "_joined", lambda p, t, m, keys: seen.append(keys) or
                        real(p, t, m, keys))
    joined = vcf_files.score_entries(plan, tables, MODELS, _indels(plan), False, None)
    assert seen == [["ENSP00000000001.1", "ENSP00000000002.1"]]
    each = vcf_files.score_entries(plan, tables, MODELS, _indels(plan), False, None, batch=False)
    pd.testing.assert_frame_equal(joined, each, check_exact=True)
    multi = joined[joined["variant_type"] == "multi_missense"]
    assert len(multi) == (1 if fixture is fx.write_vep_case else 0)  # ANN has no ENSP prefix
    assert joined["score"].notna().sum() == 8


def test_biolm_indels_flagged(tmp_path):
    case = fx.write_vep_case(tmp_path)
    plan = vcf.plan_vcf("cohort", case.vcf, case.proteins)
    tables, _ = _tables(plan.proteins)
    scored = vcf_files.score_entries(plan, tables, MODELS, None, False, "indels need local")
    indel = scored[scored["variant_type"].isin(["inframe_deletion", "inframe_insertion"])]
    assert len(indel) == 2 and (indel["flag"] == "indel_not_scored").all()
    assert indel["score"].isna().all()
    assert scored["score"].notna().sum() == 9


def test_chosen_score_mane_then_canonical_then_lowest():
    rows = pd.DataFrame({
        "record": [0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 4],
        "allele": [1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1],
        "mane": [False, True, False, False, False, False, False, True, True, True, False],
        "canonical": [False, False, False, True, False, False, False, False, False, False, True],
        "score": [-9.0, -1.0, -2.0, -0.5, -8.0, np.nan, -4.0, np.nan, np.nan, -1.5, -6.0],
    })
    # MANE over any other; canonical over the rest; else the lowest; an unscored MANE is skipped
    assert vcf_files.chosen_scores(rows) == {(0, 1): -1.0, (0, 2): -2.0, (1, 1): -0.5,
                                             (2, 1): -4.0, (4, 1): -1.5}


# -- the written VCF ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vcf_out")
    case = fx.write_vep_case(tmp, gz=True)
    plan = vcf.plan_vcf("cohort", case.vcf, case.proteins)
    tables, _ = _tables(plan.proteins)
    scored = vcf_files.score_entries(plan, tables, MODELS, _indels(plan), False, None)
    out = tmp / "out" / "cohort.esm1v.vcf.gz"
    header = ["##esm1v_scan_version=9.9", "##esm1v_scan_models=m1,m2"]
    vcf_files.write_vcf(plan, scored, out, MODELS, header)
    vcf_files.write_entries_tsv(scored, tmp / "out" / "cohort.esm1v.tsv")
    vcf_files.write_summary(plan, scored, tmp / "out" / "cohort.summary.tsv")
    return case, plan, scored, out


def _data_lines(path) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [l for l in fh.read().splitlines() if not l.startswith("#")]


def test_written_vcf_with_pysam(written):
    import pysam

    case, plan, scored, out = written
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "cohort.esm1v.tsv", "cohort.esm1v.vcf.gz", "cohort.esm1v.vcf.gz.tbi", "cohort.summary.tsv"]
    with open(out, "rb") as fh:
        assert fh.read(4) == b"\x1f\x8b\x08\x04"  # BGZF: gzip with the extra field
    with pysam.VariantFile(str(out)) as f:
        header = str(f.header)
        assert "##esm1v_scan_version=9.9" in header
        assert "Format: Allele|Feature|Protein|HGVSp|Consequence|variant_type|score|score_m1|" \
               "score_m2|flag" in header
        recs = list(f)
    assert [r.pos for r in recs] == [1000, 1100, 1200, 2000, 2100, 2200, 2300, 3000, 3100, 3200,
                                     3300, 3400, 3500]
    by_pos = {r.pos: r for r in recs}
    s = scored.set_index(["record", "allele", "feature"])
    # record 0: MANE chosen among three transcripts; ESM1v has one entry per transcript
    r0 = by_pos[1000]
    assert len(r0.info["ESM1v"]) == 3
    assert r0.info["ESM1v_score"][0] == pytest.approx(s.loc[(0, 1, "ENST00000000001.5"), "score"],
                                                      rel=1e-5)
    first = r0.info["ESM1v"][0].split("|")
    assert first[:6] == ["T", "ENST00000000001.5", "ENSP00000000001.1", fx.EXPECTED[0][3],
                         "missense_variant", "missense"] and first[-1] == ""
    # multi-allelic: one value per ALT
    r6 = by_pos[2300]
    assert r6.alts == ("A", "T")
    assert r6.info["ESM1v_score"][0] == pytest.approx(s.loc[(6, 1, "ENST00000000004.3"), "score"],
                                                      rel=1e-5)
    assert r6.info["ESM1v_score"][1] == pytest.approx(s.loc[(6, 2, "ENST00000000004.3"), "score"],
                                                      rel=1e-5)
    # synonymous: escaped '=' and score 0
    assert by_pos[1100].info["ESM1v"][0].split("|")[3] == fx.EXPECTED[3][3].replace("=", "%3D")
    assert by_pos[1100].info["ESM1v_score"] == (0.0,)
    # flagged only: the entry, no ESM1v_score
    assert by_pos[2200].info["ESM1v"][0].endswith("|frameshift")
    assert "ESM1v_score" not in by_pos[2200].info
    assert by_pos[3100].info["ESM1v"][0].endswith("|reference_mismatch")
    # passed through untouched (byte for byte), and the rest keep their columns and INFO
    src, dst = _data_lines(case.vcf), _data_lines(out)
    for k in fx.PASS_THROUGH:
        assert dst[k] == src[k]
    for a, b in zip(src, dst):
        ca, cb = a.split("\t"), b.split("\t")
        assert ca[:7] == cb[:7] and ca[8:] == cb[8:] and cb[7].startswith(ca[7])
    # the index: fetch by region
    with pysam.VariantFile(str(out)) as f:
        assert [r.pos for r in f.fetch("1", 1999, 2300)] == [2000, 2100, 2200, 2300]


def test_written_vcf_with_bcftools(written):
    bcftools = required_tool("bcftools", "ESM1V_SCAN_REQUIRE_BCFTOOLS", "apt-get install -y bcftools tabix")
    case, plan, scored, out = written
    s = scored.set_index(["record", "allele", "feature"])
    chosen = {1000: s.loc[(0, 1, "ENST00000000001.5"), "score"], 1100: 0.0,
              1200: s.loc[(2, 1, "ENST00000000001.5"), "score"],
              2000: -3.0, 2100: -4.0,
              3500: s.loc[(12, 1, "ENST00000000004.3"), "score"]}
    cut = -2.5
    want = sorted(p for p, v in chosen.items() if v < cut)
    m60 = [s.loc[(6, a, "ENST00000000004.3"), "score"] for a in (1, 2)]
    if min(m60) < cut:
        want = sorted(want + [2300])
    got = subprocess.run([bcftools, "view", "-H", "-i", f"INFO/ESM1v_score < {cut}", str(out)],
                         check=True, capture_output=True, text=True).stdout
    assert [int(l.split("\t")[1]) for l in got.splitlines()] == want
    q = subprocess.run([bcftools, "query", "-f", "%POS\t%INFO/ESM1v_score\n", str(out)],
                       check=True, capture_output=True, text=True).stdout.splitlines()
    assert len(q) == 13 and q[5] == "2200\t." and q[1] == "1100\t0"
    assert q[6].split("\t")[1].count(",") == 1
    # the region query goes through the .tbi
    r = subprocess.run([bcftools, "view", "-H", "-r", "1:3000-3100", str(out)],
                       check=True, capture_output=True, text=True).stdout
    assert [l.split("\t")[1] for l in r.splitlines()] == ["3000", "3100"]


def test_entries_tsv_and_summary(written):
    case, plan, scored, out = written
    tsv = pd.read_csv(out.parent / "cohort.esm1v.tsv", sep="\t", dtype={"flag": str},
                      keep_default_na=False)
    assert list(tsv.columns) == ["chrom", "pos", "ref", "alt", "symbol", "feature", "protein",
                                 "hgvs_p", "consequence", "variant_type", "score", "score_m1",
                                 "score_m2", "flag"]
    assert len(tsv) == 14 and tsv["flag"].tolist()[8] == "frameshift"
    assert float(tsv["score"][0]) == scored["score"].iloc[0]  # full precision
    summary = pd.read_csv(out.parent / "cohort.summary.tsv", sep="\t")
    got = dict(zip(summary["item"], summary["count"]))
    assert got == {"records": 13, "alleles": 14, "symbolic_alleles": 1,
                   "records_without_annotation": 1, "entries": 14, "protein_altering": 13,
                   "synonymous": 1, "scored": 11, "not_scored_frameshift": 1,
                   "not_scored_protein_not_found": 1, "not_scored_reference_mismatch": 1}


def test_write_vcf_atomic_and_unsorted_input(tmp_path):
    case = fx.write_vep_case(tmp_path)
    lines = case.vcf.read_text().splitlines()
    head = [l for l in lines if l.startswith("#")]
    body = [l for l in lines if not l.startswith("#")]
    (tmp_path / "unsorted.vcf").write_text("\n".join(head + body[::-1]) + "\n")
    plan = vcf.plan_vcf("x", tmp_path / "unsorted.vcf", case.proteins)
    tables, _ = _tables(plan.proteins)
    scored = vcf_files.score_entries(plan, tables, MODELS, _indels(plan), False, None)
    out = tmp_path / "out" / "x.esm1v.vcf.gz"
    out.parent.mkdir()
    out.write_bytes(b"old")
    with pytest.raises(InputError) as err:
        vcf_files.write_vcf(plan, scored, out, MODELS, [])
    assert "sorted" in _one_line(err)
    assert out.read_bytes() == b"old" and sorted(p.name for p in out.parent.iterdir()) == [
        "x.esm1v.vcf.gz"]


def test_plan_sites_equal_the_mutation_list_code(tmp_path):
    """The plan's sites and indels (found without building tables) equal those of the variant
    lists built from the same texts by from_table, which score_entries uses."""
    case = fx.write_vep_case(tmp_path)
    plan = vcf.plan_vcf("cohort", case.vcf, case.proteins)
    built = {k: vcf.variant_list(k, plan.proteins[k], t, str(case.vcf))
             for k, t in plan.texts().items()}
    assert plan.positions() == {k: v.positions for k, v in built.items()}
    assert plan.indels() == {k: v.indel_variants() for k, v in built.items() if v.indel_variants()}
    assert plan.variant_lists["ENSP00000000002.1"].positions == plan.positions()["ENSP00000000002.1"]


def test_multi_site_allele_with_an_indel_flagged(tmp_path):
    case = fx.write_vep_case(tmp_path)
    a10, a11 = fx._t(fx.SEQ_A[9]), fx._t(fx.SEQ_A[10])
    allele = f"p.[{a10}10{fx._t(fx._MIS_A)}%3B{a11}11del]"  # VEP escapes ';' in CSQ
    text = case.vcf.read_text().replace(f"ENSP00000000002.1:{fx.EXPECTED[1][3]}",
                                        f"ENSP00000000002.1:{allele}", 1)
    (tmp_path / "multi.vcf").write_text(text)
    plan = vcf.plan_vcf("cohort", tmp_path / "multi.vcf", case.proteins)
    row = plan.entries[plan.entries["feature"] == "ENST00000000002.1"].iloc[0]
    assert (row["hgvs_p"], row["flag"], row["key"]) == (
        f"p.[{a10}10{fx._t(fx._MIS_A)};{a11}11del]", "multi_site", "")
    assert plan.counts["not_scored_multi_site"] == 1 and plan.counts["scored"] == 10
    assert 10 not in plan.positions()["ENSP00000000002.1"]  # only its stop-gain's sites remain


def _small_vcf(path: Path, fields: list[str], records: list[tuple[str, str, str, list[dict]]]):
    """A VEP VCF with the given CSQ fields; records: (pos, ref, alts, [entry field values])."""
    lines = ["##fileformat=VCFv4.2",
             '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from '
             f'Ensembl VEP. Format: {"|".join(fields)}">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for pos, ref, alts, entries in records:
        csq = ",".join("|".join(e.get(f, "") for f in fields) for e in entries)
        lines.append(f"1\t{pos}\t.\t{ref}\t{alts}\t.\t.\tCSQ={csq}")
    path.write_text("\n".join(lines) + "\n")


def test_allele_num_and_unmatched_alleles(tmp_path):
    case = fx.write_vep_case(tmp_path)
    b60 = fx._t(fx.SEQ_B[59])
    fields = ["Allele", "Consequence", "Feature", "HGVSp", "ALLELE_NUM"]
    base = {"Consequence": "missense_variant", "Feature": "ENST00000000004.3"}
    _small_vcf(tmp_path / "n.vcf", fields, [
        ("2300", "G", "A,T", [{**base, "Allele": "A", "ALLELE_NUM": "2",
                               "HGVSp": f"ENSP00000000004.1:p.{b60}60Cys"},
                              {**base, "Allele": "C", "HGVSp": f"ENSP00000000004.1:p.{b60}60Trp"},
                              {**base, "Allele": "T", "HGVSp": f"ENSP00000000004.1:p.{b60}60Gly"}]),
    ])
    plan = vcf.plan_vcf("n", tmp_path / "n.vcf", case.proteins)
    got = plan.entries[["allele", "alt", "hgvs_p", "flag"]].values.tolist()
    assert got == [[2, "T", f"p.{b60}60Cys", ""],  # ALLELE_NUM wins over the Allele text
                   [0, "C", f"p.{b60}60Trp", "allele_not_in_record"],
                   [2, "T", f"p.{b60}60Gly", ""]]


def test_annotating_an_annotated_vcf_replaces_the_keys(written, tmp_path):
    """The output as input: one ESM1v declaration and one set of keys, the same records."""
    case, plan, scored, out = written
    again = vcf.plan_vcf("again", out, case.proteins)
    pd.testing.assert_frame_equal(again.entries, plan.entries)
    tables, _ = _tables(again.proteins)
    scored2 = vcf_files.score_entries(again, tables, MODELS, _indels(again), False, None)
    out2 = tmp_path / "again.vcf.gz"
    vcf_files.write_vcf(again, scored2, out2, MODELS, ["##esm1v_scan_version=10"])
    with gzip.open(out2, "rt") as fh:
        text = fh.read()
    assert text.count("##INFO=<ID=ESM1v,") == 1 and text.count("##INFO=<ID=ESM1v_score,") == 1
    assert "##esm1v_scan_version=9.9" not in text and "##esm1v_scan_version=10" in text
    assert _data_lines(out2) == _data_lines(out)  # the same tables: the same keys, once each


def test_substitution_to_sec_and_unreadable_hgvsp_flagged(tmp_path):
    case = fx.write_vep_case(tmp_path)
    b60 = fx._t(fx.SEQ_B[59])
    fields = ["Allele", "Consequence", "Feature", "HGVSp", "Protein_position", "Amino_acids"]
    base = {"Allele": "A", "Consequence": "missense_variant", "Feature": "ENST00000000004.3"}
    _small_vcf(tmp_path / "u.vcf", fields, [
        ("2300", "G", "A", [{**base, "HGVSp": f"ENSP00000000004.1:p.{b60}60Sec"},
                            {**base, "HGVSp": f"ENSP00000000004.1:p.{b60}60Xyz"},
                            {**base, "Protein_position": "?", "Amino_acids": "N/T"}])])
    plan = vcf.plan_vcf("u", tmp_path / "u.vcf", case.proteins)
    assert plan.entries["flag"].tolist() == ["nonstandard_residue", "unreadable_hgvsp", "no_hgvsp"]
    assert plan.proteins == {}


def test_vcf_without_protein_changes_passes_through(tmp_path):
    case = fx.write_vep_case(tmp_path)
    fields = ["Allele", "Consequence", "Feature"]
    _small_vcf(tmp_path / "nc.vcf", fields, [
        ("100", "A", "G", [{"Allele": "G", "Consequence": "intron_variant",
                            "Feature": "ENST00000000004.3"}]),
        ("200", "A", "<DEL>", [{"Allele": "deletion", "Consequence": "transcript_ablation",
                                "Feature": "ENST00000000004.3"}])])
    plan = vcf.plan_vcf("nc", tmp_path / "nc.vcf", case.proteins)
    assert len(plan.entries) == 0 and plan.proteins == {} and plan.positions() == {}
    assert plan.counts["records"] == 2 and plan.counts["symbolic_alleles"] == 1
    scored = vcf_files.score_entries(plan, {}, MODELS, None, False, None)
    out = tmp_path / "nc.esm1v.vcf.gz"
    vcf_files.write_vcf(plan, scored, out, MODELS, [])
    assert _data_lines(out) == [l for l in (tmp_path / "nc.vcf").read_text().splitlines()
                                if not l.startswith("#")]
    vcf_files.write_summary(plan, scored, tmp_path / "s.tsv")
    summary = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert dict(zip(summary["item"], summary["count"]))["entries"] == 0
