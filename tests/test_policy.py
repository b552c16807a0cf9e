"""Rule-side policy (esm1v_scan.pipeline.policy): scoring resources and runtime, shard positions and
content tags, finding a job's shard again, per-protein switch and the run's targets."""

import pytest

from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.scoring.planning import assign_shards
from esm1v_scan.pipeline.policy import (PER_PROTEIN_AUTO_MAX, find_shard, final_targets, missing_protein_files,
                               per_protein_enabled, protein_files, scoring_resources, scoring_runtime, scoring_threads,
                               shard_positions, shard_tag)

LOCAL = {"backend": "local", "device": "cuda", "gpu_resource": "gpu", "threads": 8,
         "max_residues": 1022}


def prot(name, length, residue="M"):
    return Protein(f"sp|{name}", name, residue * length)


@pytest.mark.parametrize("config, expected", [
    ({**LOCAL}, {"mem_mb": 12000, "gpu": 1}),
    ({**LOCAL, "gpu_resource": "gres"}, {"mem_mb": 12000, "gres": "gpu:1"}),
    ({**LOCAL, "gpu_resource": "gres:a100"}, {"mem_mb": 12000, "gres": "gpu:a100:1"}),
    ({**LOCAL, "device": "cpu"}, {"mem_mb": 12000, "gpu": 0}),
    ({**LOCAL, "backend": "biolm"}, {"mem_mb": 2000, "gpu": 0, "biolm_api": 1}),
    ({**LOCAL, "scoring": {"mem_mb": 30000, "slurm_partition": "gpu", "slurm_account": "lab"}},
     {"mem_mb": 30000, "gpu": 1, "slurm_partition": "gpu", "slurm_account": "lab"}),
    ({**LOCAL, "scoring": {"mem_mb": None, "slurm_partition": None}}, {"mem_mb": 12000, "gpu": 1}),
])
def test_scoring_resources(config, expected):
    assert scoring_resources(config) == expected


def test_scoring_runtime_grows_with_the_shard_and_can_be_fixed():
    shard = assign_shards([prot("a", 500), prot("b", 2000)], 10_000)[0]
    # 1.3e9 x (500 x 502 + 2000 x 1024) = 2.9887e15 flop at 40e9 x 2 flop/s: 37,359 s = 622.6 min
    cpu = {**LOCAL, "device": "cpu", "threads": 2}
    assert scoring_runtime(shard, cpu) == 30 + 622
    # on a GPU (50 TFLOP/s): 59.8 s -> under a minute, 30 minutes of room
    assert scoring_runtime(shard, LOCAL) == 30
    assert scoring_runtime(shard, {**LOCAL, "max_residues": 500}) == 30  # windows of 500
    assert scoring_runtime(shard, {**LOCAL, "scoring": {"runtime": 90}}) == 90


def test_scoring_threads():
    assert scoring_threads(LOCAL) == 8
    assert scoring_threads({**LOCAL, "backend": "biolm"}) == 1


def test_shard_positions_and_tag_follow_content():
    ps = [prot("a", 10), prot("b", 12), prot("c", 30)]
    shards = assign_shards(ps, 25)
    sites = {"sp|b": [3, 4, 5, 9], "sp|c": [1]}
    assert shard_positions(shards[0], sites) == {"sp|b": "3-5,9"}
    assert shard_positions(shards[1], sites) == {"sp|c": "1"}
    tag = shard_tag(shards[0], {"sp|b": "3-5,9"})
    assert len(tag) == 16 and int(tag, 16) >= 0
    assert tag == shard_tag(assign_shards(ps, 25)[0], {"sp|b": "3-5,9"})  # stable
    edited = assign_shards([prot("a", 10), prot("b", 12, "A")], 25)[0]
    others = {shard_tag(edited, {"sp|b": "3-5,9"}), shard_tag(shards[0], {"sp|b": "3-5"}),
              shard_tag(shards[0], {})}
    assert tag not in others and len(others) == 3


def test_find_shard_checks_the_content_tag():
    ps = [prot("a", 10), prot("b", 12), prot("c", 30)]
    planned = assign_shards(ps, 25)[1]
    tag = shard_tag(planned, {})
    assert find_shard(ps, 25, "shard0002", tag).names == ["c"]
    with pytest.raises(ValueError, match="shard0002: the FASTA changed since the run was planned"):
        find_shard([prot("a", 10), prot("b", 12), prot("c", 31)], 25, "shard0002", tag)
    with pytest.raises(ValueError, match="shard0009: no such shard"):
        find_shard(ps, 25, "shard0009")


def test_per_protein_switch():
    assert PER_PROTEIN_AUTO_MAX == 2000
    assert per_protein_enabled("auto", 2000) and not per_protein_enabled("auto", 2001)
    assert per_protein_enabled(True, 50_000) and not per_protein_enabled(False, 1)


def test_targets():
    models = ["m1", "m2"]
    assert protein_files("p", models) == ["results/p/scores/m1.tsv", "results/p/scores/m2.tsv",
                                          "results/p/ensemble.tsv", "results/p/matrix.tsv",
                                          "results/p/positions.tsv", "results/p/heatmap.png",
                                          "results/p/heatmap.svg", "results/p/heatmap.html",
                                          "results/p/top_mutations.tsv", "results/p/overview.png",
                                          "results/p/overview.html", "results/p/heatmap_view.html",
                                          "results/p/matrix.html", "results/p/positions.html",
                                          "results/p/top_mutations.html"]
    big = final_targets(["shard0001", "shard0002"], ["q"], [], per_protein=False,
                        missing=["results/p/ensemble.tsv"])
    assert big == ["results/summary.tsv", "results/summary.html", "results/summary_table.html",
                   "results/provenance/methods.html", "results/sequences.tsv", "results/mask_plan.tsv",
                   "results/ensemble.parquet", "results/q/variants.tsv"]
    small = final_targets(["shard0001", "shard0002"], ["q"], ["q"], per_protein=True,
                          missing=["results/p/ensemble.tsv"])
    assert small == big[:7] + [
        "results/shards/shard0001/proteins.tsv", "results/shards/shard0002/proteins.tsv",
        "results/p/ensemble.tsv", "results/q/variants.tsv", "results/q/evaluation.tsv",
        "results/q/evaluation.html", "results/q/scatter.png", "results/q/scatter.svg"]
    with_structures = final_targets(["shard0001"], [], [], per_protein=False,
                                    structures={"p": "structure.cif", "q": "structure.pdb"})
    assert with_structures[7:] == [
        "results/p/structure.cif", "results/p/structure.defattr", "results/p/structure.pml",
        "results/p/structure_map.tsv", "results/q/structure.pdb", "results/q/structure.defattr",
        "results/q/structure.pml", "results/q/structure_map.tsv"]


def test_missing_protein_files_only_of_shards_with_an_index():
    shards = assign_shards([prot("a", 10), prot("b", 12), prot("c", 30)], 25)  # [a, b], [c]
    there = {"results/shards/shard0001/proteins.tsv", *protein_files("a", ["m"]),
             "results/b/scores/m.tsv", "results/b/heatmap.svg"}
    # shard0002 has no index (never written): its job runs anyway, nothing asked file by file
    assert missing_protein_files(shards, ["m"], exists=there.__contains__) == [
        "results/b/ensemble.tsv", "results/b/matrix.tsv", "results/b/positions.tsv",
        "results/b/heatmap.png", "results/b/heatmap.html", *protein_files("b", ["m"])[7:]]
