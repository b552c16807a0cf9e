"""Annotated VCFs in the workflow: the VCFs' proteins joined to the run's (pipeline.vcf_run), the
parse-time checks of config vcf/proteins, and end to end on the tiny checkpoints (VEP CSQ and
SnpEff ANN): the output VCF record by record, its scores against a protein-level run of the same
variants, bcftools on the output, a rerun that does nothing."""

import gzip
import hashlib
import re
import subprocess
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from conftest import MODELS, required_tool, run_workflow, write_fasta
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein, read_fasta, safe_name
from esm1v_scan.inputs.variant_lists import VariantSpec, from_table
from esm1v_scan.inputs.vcf import ENTRY_COLUMNS, VcfPlan
from esm1v_scan.pipeline import vcf_run
from vcf_fixtures import CANONICAL, EXPECTED, MANE, write_snpeff_case, write_vep_case

SEQ_A = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
SEQ_B = "MSTNPKPQRKTKRNTNRRPQDVKFPGG"


def _plan(name, proteins: dict[str, str], texts: dict[str, list[str]], symbols=None) -> VcfPlan:
    """A plan as inputs.vcf gives it: per key the VariantList of its HGVS p. texts."""
    lists = {k: from_table(VariantSpec(k, f"{name}.vcf"), pd.DataFrame({"mutant": t}),
                           Protein(k, k, proteins[k])) for k, t in texts.items()}
    rows = [{c: "" for c in ENTRY_COLUMNS} | {"key": k, "symbol": (symbols or {}).get(k, ""),
                                               "hgvs_p": t}
            for k, ts in texts.items() for t in ts]
    return VcfPlan(name, f"{name}.vcf", "CSQ", proteins, lists,
                   pd.DataFrame(rows, columns=ENTRY_COLUMNS), {})


def test_vcf_proteins_join_after_the_fasta_deduplicated_by_sequence():
    base = [Protein("tiny_a", "tiny_a", SEQ_A, "from the FASTA")]
    # ENSP1 has the residues of tiny_a: scored as tiny_a, at the VCF's sites (its own list none)
    one = _plan("one", {"ENSP1.1": SEQ_A, "ENSP2.3": SEQ_B},
                {"ENSP1.1": ["p.Lys2Arg"], "ENSP2.3": ["p.Ser2Cys", "p.Lys6del"]},
                {"ENSP2.3": "GENEB"})
    # a second VCF with ENSP2.3 again (same residues) and a key with synonymous entries only
    two = _plan("two", {"ENSP2.3": SEQ_B, "ENSP9": SEQ_A[:10]},
                {"ENSP2.3": ["p.Thr3Ala"], "ENSP9": ["p.Lys2="]})
    joined = vcf_run.join_proteins(base, {"one": one, "two": two})
    assert [(p.id, p.name, p.description) for p in joined.proteins] == [
        ("tiny_a", "tiny_a", "from the FASTA"), ("ENSP2.3", "ENSP2.3", "GENEB (VCF one)")]
    assert joined.ids == {"one": {"ENSP1.1": "tiny_a", "ENSP2.3": "ENSP2.3"},
                          "two": {"ENSP2.3": "ENSP2.3", "ENSP9": None}}
    assert joined.added == ["ENSP2.3"]
    # sites of both VCFs on one protein; the deletion's first and last residue (its marks)
    assert joined.sites == {"tiny_a": [2], "ENSP2.3": [2, 3, 6]}
    assert joined.indels == {"ENSP2.3": ["p.Lys6del"]}


def test_a_vcf_protein_with_the_id_of_another_sequence_is_one_line():
    base = [Protein("ENSP2.3", "ENSP2.3", SEQ_A)]
    plan = _plan("one", {"ENSP2.3": SEQ_B}, {"ENSP2.3": ["p.Ser2Cys"]})
    with pytest.raises(InputError, match=r"^one\.vcf: protein 'ENSP2\.3' of the VCF has other "
                                         r"residues than the sequence with that id"):
        vcf_run.join_proteins(base, {"one": plan})


def test_the_run_fasta_reads_back_as_the_same_proteins(tmp_path):
    proteins = [Protein("sp|P1|X", "sp_P1_X", SEQ_A * 3, "desc  with spaces"),
                Protein("ENSP2.3", "ENSP2.3", SEQ_B, "GENEB (VCF one)")]
    path = tmp_path / "proteins.fasta"
    assert vcf_run.write_if_changed(path, vcf_run.fasta_text(proteins))
    back = read_fasta(path)
    assert [(p.id, p.name, p.sequence) for p in back] == [(p.id, p.name, p.sequence) for p in proteins]
    assert back[0].description == "desc with spaces"
    # the same content again: not rewritten (stable mtime: nothing downstream reruns)
    before = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert not vcf_run.write_if_changed(path, vcf_run.fasta_text(proteins))
    assert path.stat().st_mtime_ns == before
    assert vcf_run.write_if_changed(path, vcf_run.fasta_text(proteins[:1]))
    assert [p.id for p in read_fasta(path)] == ["sp|P1|X"]


def test_indels_of_a_list_and_a_vcf_share_one_job():
    assert vcf_run.merged_indels(["p.Lys6del"], 1, ["p.Thr3_Ser5del", "p.Lys6del"], "x") == [
        "p.Lys6del", "p.Thr3_Ser5del"]
    assert vcf_run.merged_indels([], 24, ["p.Lys6del"], "x") == ["p.Lys6del"]
    with pytest.raises(InputError, match="record 'x': in-frame indels of a VCF and of a mutation "
                                         "list with offset 24"):
        vcf_run.merged_indels(["p.Lys30del"], 24, ["p.Lys6del"], "x")


def test_header_lines_name_version_commit_models_weights_strategy_and_fasta():
    origin = {"version": "1.2.0", "git": {"commit": "abc123", "dirty": True}}
    assert vcf_run.header_lines(origin, ["m1", "m2"], True, "masked-marginals", "f" * 64) == [
        "##esm1v_scan_version=1.2.0", "##esm1v_scan_commit=abc123-dirty",
        "##esm1v_scan_models=m1,m2", "##esm1v_scan_weights=random",
        "##esm1v_scan_strategy=masked-marginals", "##esm1v_scan_proteins_sha256=" + "f" * 64]
    lines = vcf_run.header_lines({"version": "1", "git": {"commit": None}}, ["m"], False, "s", "0")
    assert lines[1] == "##esm1v_scan_commit=unknown" and lines[3] == "##esm1v_scan_weights=real"


# -- parse-time checks: one line, no job -----------------------------------------------------------

def _parse_error(tmp_path, base_config, **config):
    wd = tmp_path / "run"
    proc = run_workflow(wd, {**base_config, **config}, "-n", check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "Traceback" not in err and not (wd / "results").exists()
    return err


def test_neither_sequences_nor_vcf_is_one_line(tmp_path, base_config):
    err = _parse_error(tmp_path, base_config, sequences=None)
    assert ("esm1v-scan: config: neither sequences (a protein FASTA to scan) nor vcf (annotated "
            "VCFs, with proteins) is given; set one of them") in err


def test_vcf_without_proteins_or_with_a_missing_file_is_one_line(tmp_path, base_config):
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    err = _parse_error(tmp_path, base_config, sequences=None, vcf={"cohort": str(vcf)})
    assert "esm1v-scan: config key 'vcf' needs config key 'proteins'" in err
    pep = write_fasta(tmp_path / "pep.fa", {"ENSP1": SEQ_A})
    err = _parse_error(tmp_path, base_config, vcf={"cohort": str(tmp_path / "nope.vcf.gz")},
                       proteins=str(pep))
    assert f"esm1v-scan: config key 'vcf.cohort': no such file: {tmp_path / 'nope.vcf.gz'}" in err
    err = _parse_error(tmp_path, base_config, vcf={"cohort": str(vcf)},
                       proteins=str(tmp_path / "pep.fa.gz"))
    assert f"esm1v-scan: config key 'proteins': no such file: {tmp_path / 'pep.fa.gz'}" in err


@pytest.mark.slow
def test_dry_run_plans_the_vcf_jobs_and_biolm_leaves_indels_to_the_local_backend(tmp_path,
                                                                                  base_config):
    case = write_vep_case(tmp_path / "in")
    config = {**base_config, "sequences": None, "vcf": {"cohort": str(case.vcf)},
              "proteins": str(case.proteins)}
    local = run_workflow(tmp_path / "local", config, "-n").stdout
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", local, re.M))
    # GENEB's deletion and insertion: one indels job per model; one vcf_annotate
    assert jobs["indels"] == str(len(MODELS)) and jobs["vcf_annotate"] == "1"
    biolm = run_workflow(tmp_path / "biolm", {**config, "backend": "biolm"}, "-n").stdout
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", biolm, re.M))
    assert "indels" not in jobs and jobs["vcf_annotate"] == "1"
    # the run's FASTA: written at parse time, the VCF proteins that need scoring
    fasta = read_fasta(tmp_path / "local" / vcf_run.PROTEINS_FASTA)
    assert [(p.id, p.description) for p in fasta] == [
        ("ENSP00000000001.1", "GENEA (VCF cohort)"), ("ENSP00000000002.1", "GENEA (VCF cohort)"),
        ("ENSP00000000004.1", "GENEB (VCF cohort)")]


# -- end to end: a VEP and a SnpEff VCF in one run, against a protein-level run -------------------

def _bcftools() -> str:
    return required_tool("bcftools", "ESM1V_SCAN_REQUIRE_BCFTOOLS", "apt-get install -y bcftools tabix")


def _tiny_config(tmp: Path, tiny_dir: Path, **extra) -> dict:
    return {"models": MODELS, "model_dir": str(tiny_dir), "offline": True, "device": "cpu",
            "threads": 1, "cache_dir": str(tmp / "cache"),
            "weights_lock": str(tmp / "weights.lock.tsv"), **extra}


@pytest.fixture(scope="session")
def vcf_workflow(tmp_path_factory, tiny_dir):
    """One run on the VEP VCF (bgzipped) and the SnpEff VCF (plain) with the fixture's pep FASTA,
    no sequences FASTA; returns (workdir, config, {name: case})."""
    tmp = tmp_path_factory.mktemp("vcf_run")
    cases = {"vep": write_vep_case(tmp / "in", gz=True), "snpeff": write_snpeff_case(tmp / "in")}
    config = _tiny_config(tmp, tiny_dir, sequences=None,
                          vcf={n: str(c.vcf) for n, c in cases.items()},
                          proteins=str(cases["vep"].proteins))
    wd = tmp / "run"
    run_workflow(wd, config)
    return wd, config, cases


@pytest.fixture(scope="session")
def protein_workflow(tmp_path_factory, tiny_dir):
    """The same proteins scored as a protein-level run: the pep FASTA as `sequences`, each
    protein's scorable HGVS p. variants of the fixture as its mutation list (own score cache)."""
    tmp = tmp_path_factory.mktemp("protein_run")
    case = write_vep_case(tmp / "in")
    lists = {}
    for _, _, _, hgvs_p, _, key, flag in EXPECTED:
        if key and not flag:
            lists.setdefault(key, []).append(hgvs_p)
    variants = {}
    for key, texts in lists.items():
        path = tmp / f"{key}.csv"
        pd.DataFrame({"mutant": list(dict.fromkeys(texts))}).to_csv(path, index=False)
        variants[key] = str(path)
    wd = tmp / "run"
    run_workflow(wd, _tiny_config(tmp, tiny_dir, sequences=str(case.proteins), variants=variants))
    return {key: pd.read_csv(wd / f"results/{safe_name(key)}/variants.tsv", sep="\t",
                             keep_default_na=False).set_index("hgvs_p") for key in lists}


def _records(path) -> tuple[list[str], list[list[str]]]:
    """Header lines and data lines (split on tabs) of a VCF, plain or gzip/BGZF."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        lines = fh.read().splitlines()
    return [x for x in lines if x.startswith("#")], [x.split("\t") for x in lines
                                                     if not x.startswith("#")]


def _info(cell: str) -> list[str]:
    return [] if cell == "." else cell.split(";")


def _esm1v_fields(header: list[str]) -> list[str]:
    line = next(x for x in header if x.startswith("##INFO=<ID=ESM1v,"))
    assert "Number=.,Type=String" in line
    return re.search(r"Format: ([^\"]+)\"", line).group(1).split("|")


def _entries(info: list[str], fields: list[str]) -> list[dict]:
    value = next((x.split("=", 1)[1] for x in info if x.startswith("ESM1v=")), None)
    # values percent-encoded as VCF 4.3 asks (p.Ser20= is p.Ser20%3D)
    return [] if value is None else [dict(zip(fields, map(unquote, e.split("|"))))
                                     for e in value.split(",")]


def _score(text: str) -> float | None:
    return None if text in ("", ".") else float(text)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vep", "snpeff"])
def test_the_annotated_vcf_record_by_record(vcf_workflow, name):
    wd, config, cases = vcf_workflow
    case = cases[name]
    in_header, records = _records(case.vcf)
    out_header, out = _records(wd / f"results/vcf/{name}.esm1v.vcf.gz")
    assert (wd / f"results/vcf/{name}.esm1v.vcf.gz.tbi").stat().st_size > 0
    with open(wd / f"results/vcf/{name}.esm1v.vcf.gz", "rb") as fh:
        assert fh.read(4) == b"\x1f\x8b\x08\x04"  # BGZF: gzip with the extra field
    # the header: every input line kept in order, the two INFO fields and the run's lines added
    assert [x for x in out_header if x in in_header] == in_header
    assert out_header[-1] == in_header[-1]  # the #CHROM line stays last
    assert any(x.startswith("##INFO=<ID=ESM1v_score,Number=A,Type=Float,") for x in out_header)
    meta = dict(x[2:].split("=", 1) for x in out_header if x.startswith("##esm1v_scan_"))
    assert meta["esm1v_scan_models"] == ",".join(MODELS)
    assert meta["esm1v_scan_weights"] == "random"  # the tiny checkpoints
    assert meta["esm1v_scan_strategy"] == "masked-marginals"
    assert meta["esm1v_scan_proteins_sha256"] == hashlib.sha256(
        case.proteins.read_bytes()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", meta["esm1v_scan_commit"])
    fields = _esm1v_fields(out_header)
    assert fields == ["Allele", "Feature", "Protein", "HGVSp", "Consequence", "variant_type",
                      "score"] + [f"score_{m}" for m in MODELS] + ["flag"]

    # every record, in order; every column but INFO unchanged; INFO only gains the two fields
    assert len(out) == len(records) == case.n_records
    tsv = pd.read_csv(wd / f"results/vcf/{name}.esm1v.tsv", sep="\t", keep_default_na=False)
    by_entry = {}
    for k, (before, after) in enumerate(zip(records, out)):
        assert after[:7] + after[8:] == before[:7] + before[8:], k
        old, new = _info(before[7]), _info(after[7])
        assert new[:len(old)] == old, k
        added = [x.split("=", 1)[0] for x in new[len(old):]]
        if k in case.pass_through:
            assert after == before, k
            continue
        # ESM1v_score only where an ALT has a scored entry (VCF: a key left out is missing)
        any_scored = any(x[0] == k and not x[6] for x in case.expected)
        assert added == ["ESM1v", "ESM1v_score"] if any_scored else ["ESM1v"], k
        for e in _entries(new, fields):
            by_entry[k, e["Feature"], e["HGVSp"]] = e
    # each expected entry, with its protein, HGVS p., type and flag; scores as in the TSV
    for record, allele, feature, hgvs_p, vtype, key, flag in case.expected:
        e = by_entry.pop((record, feature, hgvs_p))
        assert (e["variant_type"], e["flag"]) == (vtype, flag), (record, feature)
        alts = records[record][4].split(",")
        row = tsv[(tsv["pos"] == int(records[record][1])) & (tsv["feature"] == feature)
                  & (tsv["hgvs_p"] == hgvs_p)]
        assert len(row) == 1 and row["alt"].iloc[0] == alts[allele - 1]
        if flag:
            assert e["score"] == "" and row["score"].iloc[0] == ""
            continue
        assert _score(e["score"]) == pytest.approx(float(row["score"].iloc[0]), abs=1e-3)
        per_model = [float(e[f"score_{m}"]) for m in MODELS]
        if vtype != "stop_gained":  # a stop-gain's ensemble: the minimum of the mean, not the mean
            assert _score(e["score"]) == pytest.approx(np.mean(per_model), abs=1e-3)
        if vtype == "synonymous":
            assert _score(e["score"]) == 0
    assert by_entry == {}  # no entry beyond the expected ones

    # ESM1v_score per ALT: MANE Select, else canonical, else the lowest score ('.' if none)
    def chosen(record, allele):
        rows = [x for x in case.expected if x[0] == record and x[1] == allele and not x[6]]
        scores = {x[2]: float(by_score[record, x[2], x[3]]) for x in rows}
        if not scores:
            return None
        if name == "vep":  # VEP declares MANE_SELECT and CANONICAL; SnpEff neither
            for tx in scores:
                if tx in MANE:
                    return scores[tx]
            for tx in scores:
                if tx in CANONICAL:
                    return scores[tx]
        return min(scores.values())

    by_score = {(k, e["Feature"], e["HGVSp"]): e["score"]
                for k, r in enumerate(out) for e in _entries(_info(r[7]), fields)}
    for k, r in enumerate(out):
        if k in case.pass_through:
            continue
        alts = len(r[4].split(","))
        values = next((x.split("=", 1)[1] for x in _info(r[7]) if x.startswith("ESM1v_score=")),
                      ",".join(["."] * alts))
        got = [_score(v) for v in values.split(",")]
        want = [chosen(k, a) for a in range(1, alts + 1)]
        assert len(got) == len(want), k
        for g, w in zip(got, want):
            assert (g is None) == (w is None) and (w is None or g == pytest.approx(w, abs=1e-3)), k
    # records 0 and 2 differ by transcript: VEP picks the MANE one, SnpEff the lowest
    mane_pick = float(by_score[0, "ENST00000000001.5", case.expected[0][3]])
    iso = float(by_score[0, "ENST00000000002.1", case.expected[1][3]])
    assert chosen(0, 1) == (mane_pick if name == "vep" else min(mane_pick, iso))


@pytest.mark.slow
def test_vcf_scores_equal_a_protein_level_run(vcf_workflow, protein_workflow):
    wd, _, cases = vcf_workflow
    compared = 0
    for name in cases:
        tsv = pd.read_csv(wd / f"results/vcf/{name}.esm1v.tsv", sep="\t", keep_default_na=False)
        for _, _, feature, hgvs_p, _, key, flag in EXPECTED:
            if flag:
                continue
            row = tsv[(tsv["feature"] == feature) & (tsv["hgvs_p"] == hgvs_p)].iloc[0]
            ref = protein_workflow[key].loc[hgvs_p]
            for m in MODELS:
                assert float(row[f"score_{m}"]) == pytest.approx(float(ref[f"score_{m}"]), abs=1e-5)
            assert float(row["score"]) == pytest.approx(float(ref["score_ensemble"]), abs=1e-5)
            compared += 1
    assert compared == 2 * sum(1 for x in EXPECTED if not x[6])


@pytest.mark.slow
def test_bcftools_reads_filters_and_queries_the_output(vcf_workflow):
    bcftools = _bcftools()
    wd, _, cases = vcf_workflow
    out = wd / "results/vcf/vep.esm1v.vcf.gz"
    _, records = _records(out)
    per_alt = []
    for r in records:
        value = next((x.split("=", 1)[1] for x in _info(r[7]) if x.startswith("ESM1v_score=")), None)
        per_alt.append((r[1], value))
    query = subprocess.run([bcftools, "query", "-f", "%POS\t%INFO/ESM1v_score\n", str(out)],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert query == [f"{pos}\t{value or '.'}" for pos, value in per_alt]
    # a threshold between the scores: bcftools keeps the records with an ALT below it
    scored = sorted(float(v) for _, value in per_alt if value for v in value.split(",") if v != ".")
    cut = (scored[len(scored) // 2 - 1] + scored[len(scored) // 2]) / 2
    kept = subprocess.run([bcftools, "view", "-H", "-i", f"INFO/ESM1v_score < {cut}", str(out)],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    want = [pos for pos, value in per_alt
            if value and any(v != "." and float(v) < cut for v in value.split(","))]
    assert [x.split("\t")[1] for x in kept] == want and 0 < len(want) < len(records)
    # the index: a region query returns the records inside it
    region = subprocess.run([bcftools, "view", "-H", "-r", "1:2000-2100", str(out)],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert [x.split("\t")[1] for x in region] == ["2000", "2100"]


@pytest.mark.slow
def test_vcf_summary_run_summary_and_a_rerun_that_does_nothing(vcf_workflow):
    wd, config, cases = vcf_workflow
    for name in cases:
        summary = pd.read_csv(wd / f"results/vcf/{name}.summary.tsv", sep="\t")
        counts = dict(zip(summary["item"], summary["count"]))
        flags = [x[6] for x in EXPECTED if x[6]]
        assert counts["records"] == 13 and counts["alleles"] == 14
        assert counts["entries"] == len(EXPECTED) and counts["scored"] == len(EXPECTED) - len(flags)
        assert counts["synonymous"] == 1 and counts["records_without_annotation"] == 1
        assert {k: v for k, v in counts.items() if k.startswith("not_scored_")} == {
            f"not_scored_{f}": 1 for f in flags}
    page = (wd / "results/summary.html").read_text()
    assert "Annotated VCF vep" in page and "Annotated VCF snpeff" in page
    assert 'href="vcf/vep.esm1v.vcf.gz"' in page
    # the run's FASTA: the VCF proteins that need scoring (ENSP...3 deduplicated into ...1)
    ids = [p.id for p in read_fasta(wd / vcf_run.PROTEINS_FASTA)]
    assert ids == ["ENSP00000000001.1", "ENSP00000000002.1", "ENSP00000000004.1"]
    # the report: the VCFs' summaries and entry tables are items of "Variant effects"
    run_workflow(wd, config, "--report", str(wd / "report.zip"))
    with zipfile.ZipFile(wd / "report.zip") as z:
        html = z.read("report/report.html").decode()
    for item in ("vep.summary.tsv", "vep.esm1v.tsv", "snpeff.summary.tsv", "snpeff.esm1v.tsv"):
        assert item in html
    assert "the annotated VCF(s)" in html
    # a rerun does nothing; the run's FASTA is not rewritten by its parse (same content, same
    # mtime: Snakemake checksums small inputs only, a proteome-sized FASTA would rerun jobs)
    before = (wd / vcf_run.PROTEINS_FASTA).stat().st_mtime_ns
    again = run_workflow(wd, config, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    assert (wd / vcf_run.PROTEINS_FASTA).stat().st_mtime_ns == before


@pytest.mark.slow
def test_vcf_proteins_are_scanned_at_their_entries_sites_only(vcf_workflow):
    wd, _, _ = vcf_workflow
    plan = pd.read_csv(wd / "results/mask_plan.tsv", sep="\t").set_index("id")
    # ENSP...1 (130 residues; ...3's entries too): missense 10, stop-gain 100 -> the end (its
    # synonymous site 20 needs no pass); the isoform (120): 10, stop-gain 90 -> the end; GENEB
    # (96): deletion 30, insertion between 40 and 41, missense 60 and 75, stop-gain 60 -> the end
    # (the reference mismatch at 70 and the frameshift at 50 are not scored)
    assert plan["positions"].to_dict() == {"ENSP00000000001.1": "10,100-130",
                                           "ENSP00000000002.1": "10,90-120",
                                           "ENSP00000000004.1": "30,40-41,60-96"}


@pytest.mark.slow
def test_a_vcf_without_annotations_is_one_line(tmp_path, base_config):
    vcf = tmp_path / "plain.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t100\t.\tA\tG\t50\tPASS\t.\n")
    pep = write_fasta(tmp_path / "pep.fa", {"ENSP1": SEQ_A})
    err = _parse_error(tmp_path, base_config, vcf={"plain": str(vcf)}, proteins=str(pep))
    lines = [x for x in err.splitlines() if "esm1v-scan:" in x]
    assert len(lines) == 1 and str(vcf) in lines[0]
    assert "--hgvs --protein --canonical --mane_select --symbol" in lines[0]
