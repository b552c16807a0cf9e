"""rule vcf_annotate: score one annotated VCF's entries from the ensemble tables of its proteins'
shards (and the indel tables of rule indels), then write the VCF with ESM-1v INFO fields (BGZF +
tabix index, one streaming pass), the per-entry TSV and the summary."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

import pandas as pd

from esm1v_scan.files import sha256_file
from esm1v_scan.inputs.vcf import cached_plan
from esm1v_scan.outputs.protein_files import protein_rows
from esm1v_scan.outputs.provenance import package_origin, random_weights, read_jobs
from esm1v_scan.outputs.vcf_files import score_entries, write_entries_tsv, write_summary, write_vcf
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.pipeline.vcf_run import header_lines
from esm1v_scan.scoring.score_tables import read_parquet, read_table

with rule_script(snakemake) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    models = list(p.models)
    plan = cached_plan(**dict(p.plan), warn=log.warning)
    aliases = dict(p.aliases)
    # plan key -> the run's FASTA id scoring it (None: synonymous entries only, no table needed)
    ids = {k: aliases.get(k, k) for k in plan.proteins}
    wanted = {i for i in ids.values() if i is not None}
    seqs = pd.read_csv(inp.sequences, sep="\t", dtype=str, keep_default_na=False,
                       usecols=["id", "name"])
    name_of = {i: n for i, n in zip(seqs["id"], seqs["name"]) if i in wanted}
    names, rows = set(name_of.values()), {}
    for path in inp.ensembles if names else ():  # one shard at a time, only the VCF's proteins read
        rows.update(protein_rows(read_parquet(path, names=names)))
    columns = next(iter(rows.values())).columns if rows else (
        ["position", "wt", "mt"] + [f"score_{m}" for m in models] + ["score_mean"])
    empty = pd.DataFrame({c: pd.Series(dtype=float if c.startswith("score") else object)
                          for c in columns})
    tables = {k: rows[name_of[i]] if i is not None else empty for k, i in ids.items()}
    # in-frame indels: model -> the indel table of the protein (local backend; inputs.indels
    # empty with BioLM, which leaves them not scored with p.indel_reason)
    indels = None
    if inp.indels:
        # the inputs are results/<name>/indels/<model>.tsv (rules/common.smk, indel_tables)
        by_file = {(os.path.basename(os.path.dirname(os.path.dirname(f))),
                    os.path.basename(f)[:-len(".tsv")]): f for f in inp.indels}
        indels = {key: {m: read_table(by_file[name_of[ids[key]], m]) for m in models}
                  for key in plan.indels()}
    scored = score_entries(plan, tables, models, indels, exact=p.indel_scoring == "exact",
                           indel_reason=p.indel_reason)
    random = random_weights(read_jobs(inp.jobs))
    if random:
        log.warning("checkpoints are not the published ESM-1v weights: the VCF says weights=random")
    header = header_lines(package_origin(), models, random, p.strategy, sha256_file(inp.proteins))
    write_vcf(plan, scored, out.vcf, models, header)
    write_entries_tsv(scored, out.tsv)
    write_summary(plan, scored, out.summary)
    log.info("%s: %s", plan.name, ", ".join(f"{k} {v}" for k, v in plan.counts.items()))
