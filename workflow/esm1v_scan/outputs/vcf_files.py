"""The annotated VCF's outputs: scores per entry, the VCF with ESM-1v INFO fields (BGZF + .tbi),
the per-entry TSV and the summary."""

from __future__ import annotations

import pandas as pd

from esm1v_scan.inputs.vcf import VcfPlan


def score_entries(plan: VcfPlan, tables: dict[str, pd.DataFrame], models: list[str],
                  indels: dict[str, dict[str, pd.DataFrame]] | None, exact: bool,
                  indel_reason: str | None) -> pd.DataFrame:
    """plan.entries + score (ensemble), score_<model> per model, scoring; built on
    scoring.variant_scores.score_variants per key."""
    raise NotImplementedError


def write_vcf(plan: VcfPlan, scored: pd.DataFrame, out_path, models: list[str],
              header_lines: list[str]) -> None:
    """The input VCF with INFO ESM1v and ESM1v_score, BGZF + .tbi, atomic, one streaming pass."""
    raise NotImplementedError


def write_entries_tsv(scored: pd.DataFrame, out_path) -> None:
    """One row per allele x transcript."""
    raise NotImplementedError


def write_summary(plan: VcfPlan, scored: pd.DataFrame, out_path) -> None:
    """records, alleles, protein-altering entries, scored, not scored by reason."""
    raise NotImplementedError
