"""Annotated VCFs in a run (config ``vcf``): their proteins joined to the run's, the sites and
in-frame indels each protein needs, the FASTA the rules read, and the output VCF's header lines.

The VCF plans themselves come from :mod:`esm1v_scan.inputs.vcf` (cached per content); this module
only decides how a run uses them, at parse time (rules/common.smk) and in rule ``vcf_annotate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from esm1v_scan.errors import InputError
from esm1v_scan.files import write_text
from esm1v_scan.inputs.fasta import ESM_RESIDUES, Protein, assign_names, validate_residues
from esm1v_scan.inputs.vcf import VcfPlan

#: the FASTA of the run's proteins when a VCF is scored (the `sequences` FASTA's, then the VCFs')
PROTEINS_FASTA = "results/vcf/proteins.fasta"
#: where the VCF plans are cached, relative to the working directory
PLAN_CACHE = ".snakemake/esm1v_scan/vcf"


@dataclass
class VcfProteins:
    """The run's proteins with the VCFs' joined, and where each VCF key went."""

    proteins: list[Protein]
    #: VCF name -> plan key -> FASTA id of the run's protein scoring it (None: no site to score,
    #: only synonymous entries; their score is 0 without a table)
    ids: dict[str, dict[str, str | None]]
    #: FASTA id -> 1-based sites the VCFs need
    sites: dict[str, list[int]] = field(default_factory=dict)
    #: FASTA id -> in-frame indels (normalised HGVS p.) the VCFs need
    indels: dict[str, list[str]] = field(default_factory=dict)
    #: ids of the proteins added for the VCFs (not in the sequences FASTA)
    added: list[str] = field(default_factory=list)


def _symbols(plan: VcfPlan) -> dict[str, str]:
    """plan key -> the gene symbol of its first entry (the added protein's FASTA description)."""
    entries = plan.entries
    if entries.empty:
        return {}
    first = entries.loc[entries["key"] != "", ["key", "symbol"]].drop_duplicates("key")
    return dict(zip(first["key"], first["symbol"]))


def join_proteins(base: list[Protein], plans: dict[str, VcfPlan]) -> VcfProteins:
    """The run's proteins: ``base`` (the sequences FASTA, in its order) then each VCF's proteins
    not already there, deduplicated by sequence (a VCF protein whose residues equal a protein of
    ``base`` or of an earlier VCF is scored as that protein). A VCF key that is an id of ``base``
    with other residues is an InputError. ``sites`` lists the VCFs' sites of every protein used,
    base ones included (the caller restricts only those scanned at sites anyway).
    """
    by_sequence = {p.sequence: p.id for p in base}
    by_id = {p.id: p for p in base}
    added: dict[str, tuple[str, str]] = {}  # id -> (sequence, description)
    ids: dict[str, dict[str, str | None]] = {}
    sites: dict[str, set[int]] = {}
    indels: dict[str, dict[str, None]] = {}
    for name, plan in plans.items():
        positions = plan.positions()
        plan_indels = plan.indels()
        symbols = _symbols(plan)
        ids[name] = {}
        for key, sequence in plan.proteins.items():
            if not positions.get(key) and not plan_indels.get(key):
                ids[name][key] = None  # synonymous entries only: nothing to scan
                continue
            seq_id = by_sequence.get(sequence)
            if seq_id is None:
                if key in by_id or key in added:
                    raise InputError(
                        f"protein '{key}' of the VCF has other residues than the sequence with "
                        "that id in the run (sequences FASTA); rename one of them", plan.path)
                if not set(sequence) <= ESM_RESIDUES:  # inputs.vcf flags these; never scored
                    validate_residues(sequence, plan.path, key)
                symbol = symbols.get(key, "")
                added[key] = (sequence, f"{symbol} (VCF {name})" if symbol else f"(VCF {name})")
                by_sequence[sequence] = seq_id = key
            ids[name][key] = seq_id
            sites.setdefault(seq_id, set()).update(positions.get(key, ()))
            for text in plan_indels.get(key, ()):
                indels.setdefault(seq_id, {})[text] = None
    all_ids = [p.id for p in base] + list(added)
    names = assign_names(all_ids)
    proteins = [Protein(p.id, names[p.id], p.sequence, p.description) for p in base]
    proteins += [Protein(i, names[i], s, d) for i, (s, d) in added.items()]
    return VcfProteins(proteins, ids, {k: sorted(v) for k, v in sites.items()},
                       {k: list(v) for k, v in indels.items()}, list(added))


def fasta_text(proteins: list[Protein], width: int = 60) -> str:
    """The proteins as FASTA (``>id description``, residues in lines of ``width``), which
    :func:`esm1v_scan.inputs.fasta.read_fasta` reads back as the same records and names."""
    out = []
    for p in proteins:
        out.append(f">{p.id} {p.description}".rstrip() + "\n")
        out.extend(p.sequence[i:i + width] + "\n" for i in range(0, len(p.sequence), width))
    return "".join(out)


def write_if_changed(path, text: str) -> bool:
    """Write ``text`` to ``path`` (atomically) unless the file already holds exactly that, so
    its modification time stays put and nothing downstream reruns. True when written."""
    path = Path(path)
    data = text.encode()
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
    return True


def merged_indels(listed: list[str], offset: int, extra: list[str], seq_id: str) -> list[str]:
    """An `indels` job's variants: a mutation list's (``listed``, numbered from ``offset``) then
    the VCFs' (numbered from 1) not among them. Both kinds with a list numbered otherwise than
    from 1 is an InputError (one job scores one numbering)."""
    if extra and listed and offset != 1:
        raise InputError(f"in-frame indels of a VCF and of a mutation list with offset {offset} "
                         "on the same sequence; give the list offset 1 or score them in two runs",
                         record=seq_id)
    return list(dict.fromkeys([*listed, *extra]))


def header_lines(origin: dict, models: list[str], random_weights: bool, strategy: str,
                 proteins_sha256: str) -> list[str]:
    """The output VCF's ``##esm1v_scan_*`` meta lines: workflow version and commit, models,
    weights (real or random), strategy, the protein FASTA's sha256."""
    git = origin.get("git") or {}
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += "-dirty"
    return [
        f"##esm1v_scan_version={origin.get('version', 'unknown')}",
        f"##esm1v_scan_commit={commit}",
        f"##esm1v_scan_models={','.join(models)}",
        f"##esm1v_scan_weights={'random' if random_weights else 'real'}",
        f"##esm1v_scan_strategy={strategy}",
        f"##esm1v_scan_proteins_sha256={proteins_sha256}",
    ]
