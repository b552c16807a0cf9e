"""Annotated VCFs (Ensembl VEP ``CSQ`` or SnpEff ``ANN``) -> the protein variants to score.

:func:`plan_vcf` streams a VCF once and gives a :class:`VcfPlan`: one row per (ALT allele,
transcript) entry (:data:`ENTRY_COLUMNS`), the proteins to score (deduplicated by sequence) and,
per protein, a :class:`~esm1v_scan.inputs.variant_lists.VariantList` built from the entries'
HGVS p. texts through the same code as a mutation list (:func:`variant_lists.from_table`), so an
entry scores exactly as the same row of a mutation list would. The plan is cached per input
content (:func:`cached_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from esm1v_scan.inputs.variant_lists import VariantList

#: One row per (ALT allele, transcript) entry of the plan.
#: record: 0-based index of the data line; allele: 1-based ALT index; protein: the protein id
#: (annotated or resolved; '' if none); hgvs_p: normalised p. or ''; key: FASTA id of the scored
#: (deduplicated) protein, '' if not scorable; flag: '' if scored, else the reason.
ENTRY_COLUMNS = ["record", "allele", "chrom", "pos", "ref", "alt", "symbol", "feature", "protein",
                 "hgvs_p", "consequence", "variant_type", "mane", "canonical", "key", "flag"]


@dataclass
class VcfPlan:
    """What one annotated VCF needs scored, and how each of its entries maps to a score."""

    name: str
    path: str
    annotation: str  #: "CSQ" or "ANN"
    proteins: dict[str, str]  #: key -> sequence, only those needed, deduplicated
    variant_lists: dict[str, VariantList]  #: key -> the VariantList of its distinct HGVS p. texts
    entries: pd.DataFrame  #: ENTRY_COLUMNS, one row per (allele, transcript) entry
    counts: dict[str, int] = field(default_factory=dict)  #: records, alleles, ..., not scored by reason

    def positions(self) -> dict[str, list[int]]:
        """key -> 1-based sites to scan (VariantList.positions)."""
        return {k: v.positions for k, v in self.variant_lists.items()}

    def indels(self) -> dict[str, list[str]]:
        """key -> in-frame indels to score (VariantList.indel_variants); keys without any left out."""
        out = {k: v.indel_variants() for k, v in self.variant_lists.items()}
        return {k: v for k, v in out.items() if v}


def plan_vcf(name: str, vcf_path, proteins_path, transcript_map=None,
             warn: Callable[[str], None] | None = None) -> VcfPlan:
    """Stream ``vcf_path`` and plan its scoring against the protein FASTA ``proteins_path``."""
    raise NotImplementedError


def save_plan(plan: VcfPlan, folder) -> None:
    """Write ``plan`` to ``folder`` atomically (JSON + parquet)."""
    raise NotImplementedError


def load_plan(folder) -> VcfPlan:
    """Read a plan written by :func:`save_plan`."""
    raise NotImplementedError


def plan_key(vcf_path, proteins_path, transcript_map, extra: dict) -> str:
    """sha256 over the input files' (resolved path, size, mtime_ns) and ``extra``."""
    raise NotImplementedError


def cached_plan(name: str, vcf_path, proteins_path, transcript_map, cache_root,
                warn: Callable[[str], None] | None = None) -> VcfPlan:
    """The plan from ``cache_root/<plan_key>/`` when there, else planned and saved there."""
    raise NotImplementedError
