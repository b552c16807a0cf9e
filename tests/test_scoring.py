import argparse

import numpy as np
import pytest
import torch

from esm1v_scan.errors import InputError
from esm1v_scan.scoring.fast_forward import FastMaskedLM, onednn_available
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.models import ESM1V_MODELS, load_model, resolve_checkpoint
from esm1v_scan.scoring.local import LocalScorer, reference_masked_marginals
from esm1v_scan.scoring.tiny_models import make_checkpoint

SEQ = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def test_tiny_checkpoint_has_the_real_esm1v_layout(tiny_dir):
    ckpt = torch.load(tiny_dir / f"{ESM1V_MODELS[0]}.pt", weights_only=False)
    assert isinstance(ckpt["args"], argparse.Namespace)
    assert ckpt["args"].arch == "roberta_large"
    keys = set(ckpt["model"])
    assert "encoder.sentence_encoder.embed_tokens.weight" in keys
    assert "encoder.sentence_encoder.layers.0.self_attn.k_proj.weight" in keys
    assert {"encoder.lm_head.weight", "encoder.lm_head.bias", "encoder.lm_head.dense.weight"} <= keys
    assert all(k.startswith(("encoder.sentence_encoder.", "encoder.lm_head.")) for k in keys)


def test_plain_torch_load_hits_the_weights_only_pitfall_and_our_loader_does_not(tiny_dir):
    import esm

    path = tiny_dir / f"{ESM1V_MODELS[0]}.pt"
    with pytest.raises(Exception, match="Namespace"):
        esm.pretrained.load_model_and_alphabet_local(str(path))  # torch >= 2.6 default
    loaded = load_model(ESM1V_MODELS[0], tiny_dir, offline=True)
    assert loaded.source == str(path)
    assert loaded.identity.startswith("sha256:") and len(loaded.identity) == 7 + 64
    assert not loaded.model.training


def test_the_five_tiny_models_differ(tiny_dir):
    a = load_model(ESM1V_MODELS[0], tiny_dir, offline=True).model.state_dict()
    b = load_model(ESM1V_MODELS[1], tiny_dir, offline=True).model.state_dict()
    assert not torch.equal(a["layers.0.fc1.weight"], b["layers.0.fc1.weight"])


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("batch_size", [1, 7, 32, "auto"])
def test_batched_scorer_equals_one_mask_per_pass_loop(tiny_model, batch_size, fast):
    """Parity: stacked masked copies give what fair-esm's predict.py loop gives, to 1e-5, through
    the fast forward (the default) and fair-esm's plain model(tokens)."""
    ref = reference_masked_marginals(tiny_model, SEQ)
    scorer = LocalScorer(tiny_model, device="cpu", batch_size=batch_size, fast=fast)
    assert (scorer.fast is not None) == fast
    df = scorer.score(SEQ)
    got = df["log_prob"].to_numpy().reshape(len(SEQ), 20)
    assert got.shape == ref.shape == (76, 20)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert np.ptp(ref) > 1.0  # the model is not flat: the comparison means something


@pytest.mark.parametrize("onednn", [True, False], ids=["onednn", "F.linear"])
def test_fast_forward_kernels_equal_the_loop(tiny_model, onednn):
    """Both kernel choices of the fast forward (oneDNN; MKL's addmm / F.linear, as on AVX2-only
    CPUs and GPUs) in fp32, on a
    window of a longer protein too (the last layer reads keys at every position, the query at the
    mask only)."""
    if onednn and not onednn_available():
        pytest.skip("this torch has no oneDNN")
    scorer = LocalScorer(tiny_model, device="cpu", batch_size=5)
    scorer.fast = FastMaskedLM(tiny_model.model, torch.device("cpu"), "fp32", onednn=onednn)
    assert scorer.fast.onednn == onednn
    np.testing.assert_allclose(
        scorer.score(SEQ)["log_prob"].to_numpy().reshape(-1, 20),
        reference_masked_marginals(tiny_model, SEQ), atol=1e-5, rtol=0,
    )
    # a 120-residue protein on a 50-residue window: same numbers as the plain forward
    long_seq = (SEQ * 2)[:120]
    fast = LocalScorer(tiny_model, device="cpu", max_residues=50, batch_size=4)
    plain = LocalScorer(tiny_model, device="cpu", max_residues=50, batch_size=4, fast=False)
    np.testing.assert_allclose(fast.score(long_seq)["log_prob"], plain.score(long_seq)["log_prob"],
                               atol=1e-5, rtol=0)


def test_fast_path_keeps_the_model_intact(tiny_dir):
    """Fusing q|k|v re-seats the weights without changing a value: the plain forward is unchanged."""
    loaded = load_model(ESM1V_MODELS[0], tiny_dir, offline=True)
    toks = LocalScorer(loaded, device="cpu", fast=False).tokens(SEQ)[None]
    with torch.no_grad():
        before = loaded.model(toks)["logits"]
        state = {k: v.clone() for k, v in loaded.model.state_dict().items()}
        LocalScorer(loaded, device="cpu", fast=True)
        after = loaded.model(toks)["logits"]
    assert torch.equal(before, after)
    assert all(torch.equal(state[k], v) for k, v in loaded.model.state_dict().items())
    attn = loaded.model.layers[0].self_attn
    assert attn.q_proj.weight.untyped_storage().data_ptr() == attn.v_proj.weight.untyped_storage().data_ptr()


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
def test_bf16_is_close_to_fp32_but_not_equal(tiny_model, fast):
    """bf16 really runs in bf16 (results differ from fp32) and ranks substitutions like fp32."""
    from scipy.stats import spearmanr

    fp32 = LocalScorer(tiny_model, device="cpu").score(SEQ)
    bf16 = LocalScorer(tiny_model, device="cpu", precision="bf16", fast=fast).score(SEQ)
    diff = np.abs(bf16["log_prob"] - fp32["log_prob"])
    assert diff.max() > 1e-4  # not silently fp32
    assert diff.max() < 1.0
    assert spearmanr(bf16["score"], fp32["score"]).statistic > 0.99


def test_batch_sizes(tiny_model):
    cpu = LocalScorer(tiny_model, device="cpu")
    assert cpu._batch_size_for(300) == 2  # about 512 token rows per pass
    assert cpu._batch_size_for(100) == 6
    assert cpu._batch_size_for(20) == 24
    assert cpu._batch_size_for(1022) == 1
    assert LocalScorer(tiny_model, device="cpu", batch_size=9)._batch_size_for(300) == 9
    # positions are split into equal batches: 76 at most 3 per pass -> 26 passes, all counted
    scorer = LocalScorer(tiny_model, device="cpu", batch_size=3)
    calls = []
    original = scorer._log_probs
    scorer._log_probs = lambda tokens, at: calls.append(len(at)) or original(tokens, at)
    scorer.score(SEQ)
    assert sum(calls) == 76 and max(calls) - min(calls) <= 1 and len(calls) == 26
    assert scorer.forward_passes == 76


def test_scores_do_not_depend_on_thread_count_batch_size_or_neighbours(tiny_model):
    """What may differ between two runs of one scoring job: torch's thread count (config threads,
    capped by --cores), the batch size (auto: the window length on CPU, free memory on a GPU) and
    which other sites share a batch (a mutation list, or the sites the score cache lacks). A
    120-residue protein on 50-residue windows (sites 1-26 share one window, 96-120 another, 27-95
    have one each): every combination within 1e-5 in log-probability of one copy per pass on one
    thread. Not bit-equal in general: the matrix-multiply kernels block a batch's rows by its size,
    which moves the last bits (1e-5 is the parity tolerance against fair-esm's loop, and what the
    score cache treats as equal). The same settings twice: bit-identical."""
    seq = (SEQ * 2)[:120]
    before = torch.get_num_threads()
    got = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for batch_size in (1, 3, 8, "auto"):
                scorer = LocalScorer(tiny_model, device="cpu", max_residues=50, batch_size=batch_size)
                got[threads, batch_size] = scorer.score(seq)["log_prob"].to_numpy().reshape(-1, 20)
        again = LocalScorer(tiny_model, device="cpu", max_residues=50, batch_size=3).score(seq)
        sparse = LocalScorer(tiny_model, device="cpu", max_residues=50, batch_size=3).score(
            seq, positions=range(1, 121, 3))  # other neighbours in every batch
    finally:
        torch.set_num_threads(before)
    ref = got[1, 1]
    assert np.ptp(ref) > 1.0
    for key, value in got.items():
        np.testing.assert_allclose(value, ref, atol=1e-5, rtol=0, err_msg=str(key))
    assert np.array_equal(again["log_prob"].to_numpy().reshape(-1, 20), got[2, 3])
    np.testing.assert_allclose(sparse["log_prob"].to_numpy().reshape(-1, 20), ref[::3], atol=1e-5,
                               rtol=0)


def test_score_table_contract(tiny_model):
    df = LocalScorer(tiny_model, device="cpu").score(SEQ)
    assert list(df.columns) == ["position", "wt", "mt", "log_prob", "prob", "score"]
    assert len(df) == 20 * len(SEQ)
    assert df["position"].tolist()[:21] == [1] * 20 + [2]
    assert "".join(df["mt"][:20]) == AMINO_ACIDS
    assert (df.groupby("position")["wt"].first().str.cat()) == SEQ
    np.testing.assert_allclose(df["prob"], np.exp(df["log_prob"]), rtol=1e-12)
    wt_rows = df[df.wt == df.mt]
    assert (wt_rows["score"] == 0).all()
    # score = log p(mt) - log p(wt) at the same position
    pos5 = df[df.position == 5].set_index("mt")
    wt = SEQ[4]
    np.testing.assert_allclose(pos5["score"], pos5["log_prob"] - pos5.loc[wt, "log_prob"], atol=1e-12)
    # probabilities are over the whole vocabulary: the 20 sum to at most 1
    sums = df.groupby("position")["prob"].sum()
    assert (sums < 1).all() and (sums > 0).all()  # not renormalised over the 20


def test_subset_of_positions_equals_the_full_scan(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu")
    full = scorer.score(SEQ).set_index(["position", "mt"])
    part = scorer.score(SEQ, positions=[3, 40, 76]).set_index(["position", "mt"])
    assert sorted(part.index.get_level_values(0).unique()) == [3, 40, 76]
    np.testing.assert_allclose(part["log_prob"], full.loc[part.index, "log_prob"], atol=1e-6)


def test_wt_marginals_is_one_pass(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu")
    df = scorer.score(SEQ, strategy="wt-marginals")
    assert scorer.forward_passes == 1
    assert len(df) == 20 * len(SEQ)
    # by hand: one unmasked pass, log-softmax at each residue token
    toks = scorer.tokens(SEQ)[None]
    with torch.no_grad():
        lp = torch.log_softmax(tiny_model.model(toks)["logits"][0], -1)
    aa = [tiny_model.alphabet.get_idx(a) for a in AMINO_ACIDS]
    np.testing.assert_allclose(df["log_prob"].to_numpy().reshape(-1, 20), lp[1:-1, aa].numpy(), atol=1e-5)
    # and it differs from masked marginals
    masked = scorer.score(SEQ)
    assert not np.allclose(masked["log_prob"], df["log_prob"], atol=1e-3)


def test_masked_scan_forward_passes_count(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu", batch_size=10)
    scorer.score(SEQ)
    assert scorer.forward_passes == len(SEQ)  # one masked copy per position, no more


def test_nonstandard_wild_type_residue(tiny_model):
    seq = "MKXVL"
    df = LocalScorer(tiny_model, device="cpu").score(seq)
    x = df[df.position == 3]
    assert (x["wt"] == "X").all()
    assert np.isfinite(x["score"]).all()  # log p(X) comes from the vocabulary


def test_unknown_model_name(tiny_dir):
    with pytest.raises(InputError, match="unknown model 'esm1v_t33_650M_UR90S_6'"):
        load_model("esm1v_t33_650M_UR90S_6", tiny_dir, offline=True)


def test_missing_checkpoint_while_offline(tmp_path):
    with pytest.raises(InputError, match=r"no checkpoint at .*esm1v_t33_650M_UR90S_2\.pt and offline mode is on"):
        resolve_checkpoint("esm1v_t33_650M_UR90S_2", tmp_path, offline=True)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint_names_the_file(tiny_dir, tmp_path, damage):
    good = (tiny_dir / f"{ESM1V_MODELS[0]}.pt").read_bytes()
    bad = tmp_path / f"{ESM1V_MODELS[0]}.pt"
    bad.write_bytes(good[: len(good) // 2] if damage == "truncate" else b"not a checkpoint" * 100)
    with pytest.raises(InputError) as err:
        load_model(ESM1V_MODELS[0], tmp_path, offline=True)
    assert str(bad) in str(err.value) and "corrupt, truncated" in str(err.value)


def test_make_checkpoint_is_deterministic():
    a, b = make_checkpoint(3), make_checkpoint(3)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_failed_download_is_one_clear_line(monkeypatch, tmp_path):
    """Without model_dir weights and not offline, fair-esm downloads by name; a failure (no network)
    says what to do instead of a traceback."""
    import urllib.error

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    with pytest.raises(InputError) as err:
        load_model(ESM1V_MODELS[0], tmp_path, offline=False)
    msg = str(err.value)
    assert "fair-esm could not download it" in msg and "esm1v_t33_650M_UR90S_1.pt" in msg


def test_a_second_fast_scorer_shares_the_fused_weights(tiny_dir):
    loaded = load_model(ESM1V_MODELS[0], tiny_dir, offline=True)
    a = LocalScorer(loaded, device="cpu")
    b = LocalScorer(loaded, device="cpu")
    assert a.fast.layers[0].qkv.weight.data_ptr() == b.fast.layers[0].qkv.weight.data_ptr()
    np.testing.assert_array_equal(a.score(SEQ)["log_prob"], b.score(SEQ)["log_prob"])


def test_fast_path_with_the_embedding_layer_norm(tiny_model):
    """ESM-1b-style checkpoints with emb_layer_norm_before (fair-esm sets it when the weights have
    it) take the same fast path: same numbers as fair-esm's forward."""
    import esm

    from esm1v_scan.scoring.models import LoadedModel
    from esm1v_scan.scoring.tiny_models import tiny_args

    args = argparse.Namespace(**{k.replace("encoder_", ""): v for k, v in vars(tiny_args()).items()})
    args.emb_layer_norm_before = True
    torch.manual_seed(0)
    model = esm.ProteinBertModel(args, tiny_model.alphabet).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)  # layer norm weights and biases too: visibly not the identity
    loaded = LoadedModel("elnb", model, tiny_model.alphabet, "memory", "memory:elnb")
    assert model.emb_layer_norm_before is not None
    fast = LocalScorer(loaded, device="cpu").score(SEQ)
    plain = LocalScorer(loaded, device="cpu", fast=False).score(SEQ)
    assert np.ptp(plain["log_prob"]) > 1.0
    np.testing.assert_allclose(fast["log_prob"], plain["log_prob"], atol=1e-5, rtol=0)
