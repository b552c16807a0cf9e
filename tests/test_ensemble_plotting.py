import numpy as np
import pandas as pd
import pytest

from esm1v_scan.scoring.ensemble import ensemble
from esm1v_scan.outputs.heatmap import heatmap, score_matrix
from esm1v_scan.scoring.score_tables import score_table

SEQ = "MKVL"


def _tables(n_models=3, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(n_models):
        logits = rng.normal(size=(len(SEQ), 25))
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        out[f"m{k}"] = score_table(SEQ, [1, 2, 3, 4], lp[:, :20])
    return out


def test_ensemble_means_and_spread():
    tables = _tables()
    e = ensemble(tables)
    assert len(e) == 80 and list(e.columns[:3]) == ["position", "wt", "mt"]
    probs = np.column_stack([t["prob"] for t in tables.values()])
    scores = np.column_stack([t["score"] for t in tables.values()])
    np.testing.assert_allclose(e["prob_mean"], probs.mean(1))
    np.testing.assert_allclose(e["score_mean"], scores.mean(1))
    np.testing.assert_allclose(e["score_sd"], scores.std(1, ddof=1))
    for k, name in enumerate(tables):
        np.testing.assert_allclose(e[f"score_{name}"], scores[:, k])
    # prob_score: log-ratio of the mean probabilities
    row = e[(e.position == 2) & (e.mt == "A")].iloc[0]
    wt = e[(e.position == 2) & (e.mt == "K")].iloc[0]
    assert row["prob_score"] == pytest.approx(np.log(row["prob_mean"]) - np.log(wt["prob_mean"]))
    assert (e.loc[e.wt == e.mt, ["prob_score", "score_mean"]] == 0).all().all()


def test_ensemble_of_one_model_has_no_spread():
    e = ensemble(_tables(1))
    assert e["score_sd"].isna().all()
    assert e["n_models"].eq(1).all()


def test_ensemble_refuses_mismatched_positions():
    t = _tables(2)
    t["m1"] = t["m1"][t["m1"].position != 3]
    with pytest.raises(ValueError, match="other positions"):
        ensemble(t)


def test_score_matrix_orientation():
    e = ensemble(_tables())
    mat, positions, wt = score_matrix(e, "score_mean")
    assert mat.shape == (20, 4) and positions == [1, 2, 3, 4] and wt == SEQ
    assert mat[0, 1] == pytest.approx(e[(e.position == 2) & (e.mt == "A")]["score_mean"].iloc[0])


def test_heatmaps_are_written_and_byte_reproducible(tmp_path):
    e = ensemble(_tables())
    long = pd.concat([e.assign(position=e.position + 4 * k) for k in range(60)])  # 240 positions
    long["wt"] = long["wt"]
    a = [tmp_path / "a.png", tmp_path / "a.svg", tmp_path / "a.pdf"]
    b = [tmp_path / "b.png", tmp_path / "b.svg", tmp_path / "b.pdf"]
    heatmap(long, a, title="test", row_width=80)
    heatmap(long, b, title="test", row_width=80)
    assert a[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a[1].read_text().lstrip().startswith("<?xml")
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.suffix
    assert "<dc:date>" not in a[1].read_text()
