import pytest
"""A shard's long tables -> the ensemble of many proteins at once, the per-protein files, and the
run's one ensemble table (one row group per shard)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from esm1v_scan.scoring.ensemble import ensemble
from esm1v_scan.outputs.protein_files import collect, protein_rows, write_protein_files
from esm1v_scan.pipeline.policy import protein_files
from esm1v_scan.scoring.score_tables import long_table, score_table, write_parquet


def table(seq, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(seq), 20))
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return score_table(seq, range(1, len(seq) + 1), log_p)


PROTS = {"p1": ("sp|P1", "MKV"), "p2": ("sp|P2", "ACDW")}


def shard(seed):
    return pd.concat([long_table(n, i, table(s, seed + k)) for k, (n, (i, s)) in enumerate(PROTS.items())],
                     ignore_index=True)


def test_a_shards_ensemble_equals_each_proteins_own():
    tables = {"m1": shard(0), "m2": shard(10)}
    together = ensemble(tables)
    assert list(together.columns[:5]) == ["name", "sequence_id", "position", "wt", "mt"]
    assert together["name"].tolist() == ["p1"] * 60 + ["p2"] * 80
    for name, rows in protein_rows(together).items():
        alone = ensemble({m: protein_rows(t)[name] for m, t in tables.items()})
        pd.testing.assert_frame_equal(rows, alone)
    # prob_score is 0 at the wild type and log(prob_mean / prob_mean of the wild type) elsewhere
    p2 = protein_rows(together)["p2"]
    at1 = p2[p2.position == 1].set_index("mt")
    assert at1.loc["A", "prob_score"] == 0.0
    np.testing.assert_allclose(at1.loc["W", "prob_score"],
                               np.log(at1.loc["W", "prob_mean"] / at1.loc["A", "prob_mean"]))


def test_collect_writes_one_row_group_per_shard(tmp_path):
    paths = []
    for k in range(3):
        path = tmp_path / f"shard{k}.parquet"
        write_parquet(shard(k), path)
        paths.append(path)
    assert collect(paths, tmp_path / "all.parquet") == 3 * 140
    f = pq.ParquetFile(tmp_path / "all.parquet")
    assert f.num_row_groups == 3 and f.metadata.num_rows == 420
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "all.parquet"),
                                  pd.concat([shard(k) for k in range(3)], ignore_index=True))
    assert not list(tmp_path.glob(".*tmp"))


def test_write_protein_files(tmp_path):
    scores = {"m1": protein_rows(shard(0))["p2"], "m2": protein_rows(shard(10))["p2"]}
    ens = ensemble(scores)
    written = write_protein_files("p2", "sp|P2", scores, ens, {"value": "score_mean", "row_width": 80},
                                  root=tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "p2/scores/m1.tsv", "p2/scores/m2.tsv", "p2/ensemble.tsv", "p2/matrix.tsv",
        "p2/positions.tsv", "p2/heatmap.png", "p2/heatmap.svg", "p2/heatmap.html",
        "p2/top_mutations.tsv", "p2/overview.png", "p2/overview.html", "p2/heatmap_view.html",
        "p2/matrix.html", "p2/positions.html", "p2/top_mutations.html"]
    assert [f"results/{p.relative_to(tmp_path).as_posix()}" for p in written] == protein_files(
        "p2", ["m1", "m2"])
    m1 = (tmp_path / "p2/scores/m1.tsv").read_text().splitlines()
    assert m1[0] == "position\twt\tmt\tlog_prob\tprob\tscore" and len(m1) == 1 + 80
    assert m1[1].startswith("1\tA\tA\t") and m1[1].endswith("\t0")
    back = pd.read_csv(tmp_path / "p2/ensemble.tsv", sep="\t")
    np.testing.assert_allclose(back["score_mean"], (scores["m1"]["score"] + scores["m2"]["score"]) / 2,
                               rtol=1e-6)
    assert (tmp_path / "p2/heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert "sp|P2" in (tmp_path / "p2/heatmap.svg").read_text()


def test_write_protein_files_offset_tables(tmp_path):
    scores = {"m1": protein_rows(shard(0))["p2"], "m2": protein_rows(shard(10))["p2"]}
    write_protein_files("p2", "sp|P2", scores, ensemble(scores),
                        {"value": "score_mean", "row_width": 80}, root=tmp_path, offset=24)
    ens = pd.read_csv(tmp_path / "p2/ensemble.tsv", sep="\t")
    for pos, res, wt, mt, mut in zip(ens["position"], ens["residue"], ens["wt"], ens["mt"],
                                     ens["mutant"]):
        assert res == pos + 23 and mut == f"{wt}{pos + 23}{mt}"
    cells, subs = {}, {}
    for pos, wt, mt, s in zip(ens["position"], ens["wt"], ens["mt"], ens["score_mean"]):
        cells[(pos, mt)] = s
        if mt != wt:
            subs.setdefault(pos, []).append(s)
    matrix = pd.read_csv(tmp_path / "p2/matrix.tsv", sep="\t")
    assert list(matrix["residue"]) == [p + 23 for p in matrix["position"]]
    for _, row in matrix.iterrows():
        for aa in "ACDEFGHIKLMNPQRSTVWY":
            if (row["position"], aa) in cells:
                assert row[aa] == pytest.approx(cells[(row["position"], aa)], rel=1e-6)
            else:
                assert np.isnan(row[aa])
    positions = pd.read_csv(tmp_path / "p2/positions.tsv", sep="\t")
    for pos, mean in zip(positions["position"], positions["mean_score"]):
        assert mean == pytest.approx(sum(subs[pos]) / len(subs[pos]), rel=1e-5)
    page = (tmp_path / "p2/heatmap.html").read_text()
    first = ens.iloc[1]
    assert "sp|P2" in page and str(first["residue"]) in page
