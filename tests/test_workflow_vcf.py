"""Annotated VCFs in the workflow: the VCFs' proteins joined to the run's (pipeline.vcf_run), the
parse-time checks of config vcf/proteins, and end to end on the tiny checkpoints (VEP CSQ and
SnpEff ANN): the output VCF record by record, its scores against a protein-level run of the same
variants, bcftools on the output, a rerun that does nothing."""

import os
import time

import pandas as pd
import pytest

from conftest import run_workflow, write_fasta
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein, read_fasta
from esm1v_scan.inputs.variant_lists import VariantSpec, from_table
from esm1v_scan.inputs.vcf import ENTRY_COLUMNS, VcfPlan
from esm1v_scan.pipeline import vcf_run

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
