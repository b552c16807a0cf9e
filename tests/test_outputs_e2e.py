"""End to end: config offsets number every per-protein table, the run's ensemble table and the
interactive page (tiny random models, two short proteins)."""
import pandas as pd
import pytest

from conftest import run_workflow, write_fasta

pytestmark = pytest.mark.slow

SEQS = {"tiny_1 first protein": "MKTAYIAKQR", "tiny_2": "MQIFVKTLTG"}


def test_offsets_number_tables_and_pages(tmp_path, base_config):
    config = {**base_config, "models": base_config["models"][:2],
              "sequences": str(write_fasta(tmp_path / "in.fasta", SEQS)),
              "offsets": {"tiny_1": 24}}
    run_workflow(tmp_path / "run", config)
    res = tmp_path / "run" / "results"
    ens = pd.read_csv(res / "tiny_1/ensemble.tsv", sep="\t")
    for pos, res_no, wt, mt, mut in zip(ens["position"], ens["residue"], ens["wt"], ens["mt"],
                                        ens["mutant"]):
        assert res_no == pos + 23 and mut == f"{wt}{pos + 23}{mt}"
    assert set(ens.loc[ens["position"] == 1, "mutant"]) == {f"M24{a}" for a in "ACDEFGHIKLMNPQRSTVWY"}
    other = pd.read_csv(res / "tiny_2/ensemble.tsv", sep="\t")
    assert list(other["residue"]) == list(other["position"])
    allrows = pd.read_parquet(res / "ensemble.parquet")
    for name, table in (("tiny_1", ens), ("tiny_2", other)):
        rows = allrows[allrows["name"] == name].drop(columns=["name", "sequence_id"])
        assert list(rows["mutant"]) == list(table["mutant"])
        assert list(rows["residue"]) == list(table["residue"])
        pd.testing.assert_series_equal(rows["score_mean"].reset_index(drop=True),
                                       table["score_mean"], rtol=1e-6, check_names=False)
    positions = pd.read_csv(res / "tiny_1/positions.tsv", sep="\t")
    for pos, mean in zip(positions["position"], positions["mean_score"]):
        subs = [s for p, w, m, s in zip(ens["position"], ens["wt"], ens["mt"], ens["score_mean"])
                if p == pos and m != w]
        assert len(subs) == 19 and mean == pytest.approx(sum(subs) / 19, rel=1e-5)
    matrix = pd.read_csv(res / "tiny_1/matrix.tsv", sep="\t")
    for p, m, s in zip(ens["position"], ens["mt"], ens["score_mean"]):
        assert matrix.loc[matrix["position"] == p, m].item() == pytest.approx(s, rel=1e-6)
    page = (res / "tiny_1/heatmap.html").read_text()
    assert '"residues":[24,25,26,27,28,29,30,31,32,33]' in page and '"offset":24' in page
    assert '"stamp":"' in page and '"stamp":""' not in page  # tiny weights are random
