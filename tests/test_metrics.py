"""ProteinGym's zero-shot DMS metrics (evaluation.tsv): each against its definition on small
hand-made arrays with literal values, against straightforward independent computations on TEM-1's
real ESM-1v scores, the bootstrap standard errors, and the binary label of a variant list."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import DATA
from esm1v_scan.errors import InputError
from esm1v_scan.outputs.evaluation import (METRICS, bootstrap_se, evaluate, evaluation_html,
                                   mcc_at_median, metrics, ndcg, roc_auc, top_recall)
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.inputs.variant_lists import VariantSpec, describe_label, label_values, read_variants

UBQ = Protein("ubq", "ubq", "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG")
TEM1 = DATA / "BLAT_ECOLX_Ranganathan2015_labeled.csv"
TEM1_MODELS = [f"esm1v_t33_650M_UR90_{k}" for k in range(1, 6)]


# -- each metric on hand-made arrays ----------------------------------------------------------------
def test_auc_literal():
    # negatives score 0.1, 0.4; positives 0.35, 0.8: pairs (0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4)
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    # a tie between a positive and a negative counts one half: (1, 0.5, 1, 1) / 4
    assert roc_auc([1, 2, 2, 3], [0, 0, 1, 1]) == 0.875
    assert roc_auc([3, 2, 1], [1, 1, 0]) == 1.0
    assert math.isnan(roc_auc([1, 2, 3], [1, 1, 1]))  # one class: undefined
    assert roc_auc([1, np.nan, 2, 3], [0, 1, np.nan, 1]) == 1.0  # rows with a NaN left out


def test_mcc_binarises_the_score_at_its_median():
    # median 3.5 -> predicted 0 0 0 1 1 1; label 0 0 1 0 1 1: tp 2, fp 1, tn 2, fn 1
    assert mcc_at_median([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1]) == pytest.approx((2 * 2 - 1 * 1) / 9)
    # the median itself counts as 1 (score >= median): median 2 -> 0 1 1 1 1; label 0 1 0 1 1:
    # tp 3, fp 1, tn 1, fn 0
    assert mcc_at_median([1, 2, 2, 2, 5], [0, 1, 0, 1, 1]) == pytest.approx(3 / math.sqrt(4 * 3 * 2 * 1))
    assert mcc_at_median([1, 2, 3, 4], [1, 1, 1, 1]) == 0.0  # an empty class: 0, as sklearn
    assert mcc_at_median([4, 3, 2, 1], [0, 0, 1, 1]) == -1.0


def test_ndcg_on_the_top_tenth_with_min_max_gains():
    # 20 variants -> k = 2. Experimental values 0, 1, ..., 9, then 10 (max) and 9 more; min 0,
    # max 10, so gain = value / 10. The two best scores are at rows of value 5 (first) and 10.
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 1, 1, 1, 2, 2, 2, 2, 2], dtype=float)
    x = np.zeros(20)
    x[5], x[10] = 9.0, 8.0
    x[:5] = [1, 2, 3, 4, 5]
    expected = (0.5 / math.log2(2) + 1.0 / math.log2(3)) / (1.0 / math.log2(2) + 0.9 / math.log2(3))
    assert ndcg(x, y) == pytest.approx(expected, abs=1e-12)
    # negative values: the gains are min-max normalised, the same ranking gives the same NDCG
    assert ndcg(x, y * 3 - 50) == pytest.approx(expected, abs=1e-12)
    # perfect ranking: 1
    assert ndcg(y, y) == pytest.approx(1.0, abs=1e-12)
    # tied best scores: the earlier row ranks first (value 5 at rank 1, value 10 at rank 2)
    x2 = x.copy()
    x2[10] = 9.0
    assert ndcg(x2, y) == pytest.approx(expected, abs=1e-12)
    assert math.isnan(ndcg(x[:9], y[:9]))  # fewer than 10 variants: no top 10%
    assert math.isnan(ndcg(x, np.ones(20)))  # constant experiment: no gains


def test_top10_recall_literal():
    # y = 0..19: the 90th percentile is 17.1, so rows 18 and 19 are the experiment's top 10%;
    # the score's top 10% are rows 19 and 5: one of the two is found
    y = np.arange(20, dtype=float)
    x = np.zeros(20)
    x[19], x[5] = 3.0, 2.0
    assert top_recall(x, y) == 0.5
    assert top_recall(y, y) == 1.0
    assert top_recall(-y, y) == 0.0
    # a value at the percentile itself is in the top: y = 0..10, 90th percentile 9.0 -> rows 9
    # and 10; x puts row 10 last, its 90th percentile is 8.0 -> rows 8 and 9
    x = np.arange(11.0)
    x[10] = -1.0
    assert top_recall(x, np.arange(11.0)) == 0.5


def test_metrics_without_a_label_leave_auc_and_mcc_empty():
    got = metrics([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [2, 1, 3, 4, 5, 6, 7, 8, 9, 10, 12])
    assert math.isnan(got["auc"]) and math.isnan(got["mcc"])
    assert got["n"] == 11 and got["spearman"] == pytest.approx(1 - 6 * 2 / (11 * 120))
    assert got["top10_recall"] == 1.0  # the top 10% (10.0 and above: 11 and 12) both found


# -- TEM-1's real ESM-1v scores against independent computations ---------------------------------
def _auc_by_pairs(x, label):
    pos, neg = x[label == 1], x[label == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def _mcc_by_counts(x, label):
    pred = (x >= np.median(x)).astype(int)
    tp = int(((pred == 1) & (label == 1)).sum())
    tn = int(((pred == 0) & (label == 0)).sum())
    fp = int(((pred == 1) & (label == 0)).sum())
    fn = int(((pred == 0) & (label == 1)).sum())
    return (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))


def _ndcg_proteingym_style(y, x):
    """NDCG as performance_DMS_benchmarks.calc_ndcg writes it: ranks of the scores (1 = best), sums
    over the ranks up to k; tied scores ranked by row order (a Python sort on (-score, row))."""
    k = int(np.floor(len(y) * 0.1))
    gains = (y - y.min()) / (y.max() - y.min())
    ranks = np.empty(len(x), dtype=int)
    ranks[sorted(range(len(x)), key=lambda i: (-x[i], i))] = np.arange(1, len(x) + 1)
    dcg = sum(g / math.log2(r + 1) for r, g in zip(ranks, gains) if r <= k and g != 0)
    ideal_ranks = np.argsort(np.argsort(-gains)) + 1
    idcg = sum(g / math.log2(r + 1) for r, g in zip(ideal_ranks, gains) if r <= k and g != 0)
    return dcg / idcg


def _top_recall_by_sets(x, y):
    top_y = set(np.flatnonzero(y >= np.percentile(y, 90)))
    top_x = set(np.flatnonzero(x >= np.percentile(x, 90)))
    return len(top_y & top_x) / len(top_y)


def test_tem1_real_scores_match_independent_computations():
    seq = "".join((DATA / "BLAT_ECOLX.fasta").read_text().splitlines()[1:])
    spec = VariantSpec("BLAT_ECOLX", str(TEM1), offset=24, score_column="2500", cutoff=-0.5)
    vl = read_variants(spec, Protein("BLAT_ECOLX", "BLAT_ECOLX", seq))
    assert vl.label == {"cutoff": -0.5}
    label = label_values(vl.label, vl.table, vl.experimental, str(TEM1))
    raw = pd.read_csv(TEM1)
    y = raw["2500"].to_numpy()
    np.testing.assert_array_equal(label, (y >= -0.5).astype(float))
    assert int(label.sum()) == 2103  # of 4,996 variants

    table = raw[TEM1_MODELS].assign(ensemble=raw[TEM1_MODELS].mean(axis=1))
    predictors = {m: m for m in TEM1_MODELS} | {"ensemble": "ensemble"}
    ev = evaluate(table, vl.experimental, "2500", predictors, label,
                  describe_label(vl.label, "2500"), bootstrap=20).set_index("predictor")
    assert ev["label"].tolist() == ["2500 >= -0.5"] * 6 and ev["n"].tolist() == [4996] * 6
    for name, column in predictors.items():
        x = table[column].to_numpy()
        row = ev.loc[name]
        assert row["auc"] == pytest.approx(_auc_by_pairs(x, label), abs=1e-12), name
        assert row["mcc"] == pytest.approx(_mcc_by_counts(x, label), abs=1e-12), name
        assert row["ndcg"] == pytest.approx(_ndcg_proteingym_style(y, x), abs=1e-12), name
        assert row["top10_recall"] == pytest.approx(_top_recall_by_sets(x, y), abs=1e-12), name
        for m in METRICS:
            assert 0 < row[f"{m}_se"] < 0.05, (name, m)
    # the ensemble's figures, as the README shows them
    assert ev.loc["ensemble", list(METRICS)].round(4).tolist() == [0.7026, 0.8637, 0.5899, 0.9009, 0.318]


# -- bootstrap standard errors ------------------------------------------------------------------
def test_bootstrap_se_is_the_sd_over_seeded_resamples():
    rng = np.random.default_rng(3)
    n, resamples = 60, 40
    y = rng.normal(size=n)
    x = y + rng.normal(size=n)
    label = (y > 0).astype(float)
    got = bootstrap_se(x, y, label, resamples)
    # independent: the same draws (numpy's default_rng(0), one row of n indices per resample),
    # each resample through the one-set metric functions, then the SD with ddof 1
    idx = np.random.default_rng(0).integers(0, n, size=(resamples, n))
    per = {m: [metrics(x[i], y[i], label[i])[m] for i in idx] for m in METRICS}
    for m in METRICS:
        assert got[f"{m}_se"] == pytest.approx(np.std(per[m], ddof=1), abs=1e-12), m
        assert got[f"{m}_se"] > 0
    assert bootstrap_se(x, y, label, resamples) == got  # identical on rerun
    assert bootstrap_se(x, y, label, resamples, seed=1) != got
    no_label = bootstrap_se(x, y, None, resamples)
    assert math.isnan(no_label["auc_se"]) and math.isnan(no_label["mcc_se"])
    assert no_label["spearman_se"] == got["spearman_se"]
    assert all(math.isnan(v) for v in bootstrap_se(x, y, label, 0).values())


def test_evaluation_table_and_page_without_a_label():
    table = pd.DataFrame({"s": np.arange(12.0), "t": np.arange(12.0)[::-1]})
    ev = evaluate(table, np.arange(12.0), "DMS_score", {"a": "s", "b": "t"}, bootstrap=10)
    assert list(ev.columns) == [
        "predictor", "variant_type", "score_column", "experimental_column", "spearman", "n", "auc",
        "mcc", "ndcg", "top10_recall", "spearman_se", "auc_se", "mcc_se", "ndcg_se", "top10_recall_se", "label"]
    assert ev["auc"].isna().all() and ev["mcc"].isna().all() and ev["label"].tolist() == ["", ""]
    assert ev["spearman"].tolist() == [1.0, -1.0] and ev["top10_recall"].tolist() == [1.0, 0.0]
    assert ev["ndcg"].tolist() == pytest.approx([1.0, 0.0])
    html = evaluation_html(ev, "p", ["auc and mcc are empty: no label"])
    assert "<p>auc and mcc are empty: no label</p>" in html
    assert "<td>1.0000</td>" in html and "<td></td>" in html and "<dt>top10_recall</dt>" in html


# -- the binary label of a variant list ---------------------------------------------------------
def _read(tmp_path, text, **spec):
    f = tmp_path / "v.csv"
    f.write_text(text)
    return read_variants(VariantSpec("ubq", str(f), **spec), UBQ)


def test_label_from_dms_score_bin_bin_column_or_cutoff(tmp_path):
    text = "mutant,DMS_score,DMS_score_bin,mine\nI3V,0.5,1,0\nK6R,-1,0,1\nL8P,NA,,\n"
    vl = _read(tmp_path, text)
    assert vl.label == {"column": "DMS_score_bin"}
    np.testing.assert_array_equal(label_values(vl.label, vl.table, vl.experimental, "v"), [1, 0, np.nan])
    vl = _read(tmp_path, text, bin_column="mine")  # configured wins over DMS_score_bin
    np.testing.assert_array_equal(label_values(vl.label, vl.table, vl.experimental, "v"), [0, 1, np.nan])
    vl = _read(tmp_path, text, cutoff=0.5)  # a value equal to the cutoff is 1
    assert vl.label == {"cutoff": 0.5} and describe_label(vl.label, "DMS_score") == "DMS_score >= 0.5"
    np.testing.assert_array_equal(label_values(vl.label, vl.table, vl.experimental, "v"), [1, 0, np.nan])
    assert _read(tmp_path, "mutant,DMS_score\nI3V,1\n").label == {}


@pytest.mark.parametrize("text, spec, message", [
    ("mutant,DMS_score,DMS_score_bin\nI3V,1,1\nK6R,2,yes\n", {},
     "v.csv: row 2: the label 'yes' in column 'DMS_score_bin' is not 0 or 1 (1 such row(s)"),
    ("mutant,DMS_score,b\nI3V,1,2\n", {"bin_column": "b"}, "row 1: the label '2' in column 'b' is not 0 or 1"),
    ("mutant,DMS_score\nI3V,1\n", {"bin_column": "b"}, "v.csv: no column 'b' (bin_column; columns found:"),
    ("mutant,x\nI3V,1\n", {"cutoff": 0.5},
     "v.csv: cutoff is set but the file has no experimental values to evaluate (set score_column)"),
])
def test_bad_label_is_one_line(tmp_path, text, spec, message):
    with pytest.raises(InputError) as err:
        _read(tmp_path, text, **spec)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bin_column_and_cutoff_together_is_a_config_error():
    from esm1v_scan.inputs.variant_lists import specs_from_config

    with pytest.raises(InputError, match="give bin_column or cutoff, not both"):
        specs_from_config({"ubq": {"path": "v.csv", "bin_column": "b", "cutoff": 1}}, [UBQ])
    with pytest.raises(InputError, match="cutoff must be a number, got 'high'"):
        specs_from_config({"ubq": {"path": "v.csv", "cutoff": "high"}}, [UBQ])
    spec = specs_from_config({"ubq": {"path": "v.csv", "cutoff": "0.25"}}, [UBQ])["ubq"]
    assert spec.cutoff == 0.25 and spec.bin_column is None
