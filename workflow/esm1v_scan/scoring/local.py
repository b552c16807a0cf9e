"""The local backend: ESM-1v masked and wild-type marginals with fair-esm, on CPU or GPU.

Usable from a notebook::

    from esm1v_scan.scoring.models import load_model
    from esm1v_scan.scoring.local import LocalScorer
    scorer = LocalScorer(load_model("esm1v_t33_650M_UR90S_1"))    # load once
    df = scorer.score("MKTAYIAKQR...", strategy="masked-marginals")  # pandas DataFrame

``masked-marginals``: one forward pass per scored position with that position replaced by
``<mask>``; the 20 amino-acid log-probabilities are read at the mask. Masked copies of one
sequence have equal length, so they are stacked into batches without padding.
``wt-marginals``: one pass over the unmasked sequence, read at every position.

Masked marginals run through :class:`esm1v_scan.scoring.fast_forward.FastMaskedLM` by default (``fast=True``): the
same model and weights, only the logits at the mask computed, oneDNN kernels on CPU, weights cast
once for bf16/fp16. ``fast=False`` runs fair-esm's plain ``model(tokens)`` (under autocast for
bf16/fp16). Both equal fair-esm's one-mask-per-pass loop in fp32 (tests/test_scoring.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from esm1v_scan.scoring.fast_forward import FastMaskedLM, onednn_available
from esm1v_scan.scoring.fast_forward import supports as fast_supports
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.models import LoadedModel
from esm1v_scan.scoring.planning import LONG_WINDOWS, blend_weights, masked_window, wt_windows
from esm1v_scan.scoring.progress import Progress  # noqa: F401  (re-exported: scorers take one)
from esm1v_scan.scoring.score_tables import score_table

log = logging.getLogger(__name__)

STRATEGIES = ("masked-marginals", "wt-marginals")
PRECISIONS = ("fp32", "bf16", "fp16")


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was asked for, but torch sees no CUDA GPU")
    return torch.device(device)


class LocalScorer:
    """Scores sequences with one loaded fair-esm model (load it once, score many)."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: str = "auto",
        batch_size: int | str = "auto",
        precision: str = "fp32",
        max_residues: int | None = None,
        fast: bool = True,
        long_windows: str = "esm1v-scan",
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if long_windows not in LONG_WINDOWS:
            raise ValueError(f"long_windows must be one of {LONG_WINDOWS}, got {long_windows!r}")
        #: masked-marginal windows of proteins longer than max_residues
        #: (:func:`esm1v_scan.scoring.planning.masked_window`); part of the score cache's key for them
        self.long_windows = long_windows
        self.loaded = loaded
        self.name = loaded.name
        self.device = resolve_device(device)
        self.precision = precision
        self.model = loaded.model.eval().to(self.device)
        self.alphabet = loaded.alphabet
        self.max_residues = max_residues or loaded.max_residues
        self.batch_size = batch_size
        self.aa_idx = torch.tensor([self.alphabet.get_idx(a) for a in AMINO_ACIDS])
        self.forward_passes = 0  # sequences run through the model (for tests and benchmarks)
        why_not = fast_supports(self.model) if fast else "fast=False"
        #: the masked-marginal forward: FastMaskedLM, or None for fair-esm's plain model(tokens)
        self.fast = FastMaskedLM(self.model, self.device, precision) if why_not is None else None
        if fast and why_not:
            log.info("plain forward for %s: %s", self.name, why_not)
        if self.device.type == "cpu" and precision == "bf16" and not onednn_available(torch.bfloat16):
            log.warning("precision bf16 on a CPU without bf16 matrix kernels (no AVX512-BF16 or AMX): "
                        "torch's fallback runs ~15x slower than fp32 here, and rounds like bf16; "
                        "fp32 is both faster and exact on this CPU")
        #: what the score cache keys on: model file, and the precision that changes the numbers;
        #: in bf16/fp16 the fast and plain forwards round differently (in fp32 they agree to 1e-5)
        forward = "" if precision == "fp32" else (":fast" if self.fast is not None else ":plain")
        self.identity = f"fair-esm:{loaded.identity}:{precision}{forward}"

    # -- tokens -------------------------------------------------------------------------------
    def tokens(self, sequence: str) -> torch.Tensor:
        a = self.alphabet
        return torch.tensor([a.cls_idx] + [a.get_idx(c) for c in sequence] + [a.eos_idx])

    def _batch_size_for(self, length: int, plain: bool = False) -> int:
        """Masked copies per forward pass for a window of ``length`` residues (``plain``: copies
        per pass of fair-esm's plain forward, which unmasked passes always use)."""
        if self.batch_size != "auto":
            return max(1, int(self.batch_size))
        tokens = length + 2
        fast = self.fast is not None and not plain
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            args = self.model.args
            e, ffn = args.embed_dim, args.ffn_embed_dim
            if fast:
                # flash attention holds no T x T matrix; per token: fp32 residual and norms,
                # q|k|v, the FFN's hidden layer and its GELU (2-byte), with a factor 2 of room
                per_token = 2 * (4 * 4 * e + 2 * (4 * e + 2 * ffn))
            else:
                # fair-esm materialises heads x T attention weights per token, in fp32
                per_token = (4 * ffn + 4 * args.attention_heads * tokens) * 4
            by_memory = int(0.5 * free // (per_token * tokens))
            # ~64k tokens per pass already fill the largest GPUs' matrix units
            return max(1, min(by_memory, 65536 // tokens))
        if fast:
            # CPU (oneDNN or MKL): matrix multiplies of a few hundred rows run at full rate; ~512
            # rows measured a few % faster than one copy per pass (at 102 and 302 tokens, oneDNN,
            # AVX-512), far more only spill the caches; on the AVX2 VM MKL's torch.mm at the model's
            # shapes ran ~15% slower at 1 copy of 302 tokens than at 2-4, which were within 5%
            return -(-512 // tokens)
        # plain CPU forward: batching does not help (shared/reference/cpu-performance-notes.md)
        return max(1, 1024 // tokens)

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    @torch.inference_mode()
    def _log_probs(self, tokens: torch.Tensor, read_at: torch.Tensor) -> torch.Tensor:
        """Run a (B, T) batch; return log-softmax over the vocabulary at read_at[b] -> (B, V)."""
        tokens = tokens.to(self.device)
        read_at = read_at.to(self.device)
        if self.fast is not None:
            picked = self.fast(tokens, read_at)
        else:
            with self._autocast():
                logits = self.model(tokens)["logits"]
            rows = torch.arange(tokens.shape[0], device=self.device)
            picked = logits[rows, read_at].float()
        self.forward_passes += tokens.shape[0]
        return torch.log_softmax(picked, dim=-1).cpu()

    # -- strategies ---------------------------------------------------------------------------
    def masked_marginals(
        self, sequence: str, positions: Sequence[int] | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        """Log-probabilities over the whole vocabulary at each masked position: (n, V).

        positions are 1-based; default all. Sequences longer than the context are scored on a
        window around each site, as ``long_windows`` says
        (:func:`~esm1v_scan.scoring.planning.masked_window`): ``esm1v-scan``, ``max_residues`` residues
        centred on the site (clamped at the ends) in BOS/EOS; ``proteingym``, ProteinGym's
        ``max_residues + 2`` tokens cut out of BOS + protein + EOS.
        """
        L = len(sequence)
        positions = list(range(1, L + 1)) if positions is None else [int(p) for p in positions]
        full = self.tokens(sequence)
        out = np.empty((len(positions), len(self.alphabet.all_toks)), dtype=np.float32)
        # group sites by window so each batch holds equal-length copies
        groups: dict[tuple[int, int, bool], list[int]] = {}
        for row, pos in enumerate(positions):
            key = masked_window(pos, L, self.max_residues, self.long_windows)
            groups.setdefault(key, []).append(row)
        for (start, end, wrapped), rows in groups.items():
            # tokens start..end-1 of BOS + protein + EOS, wrapped in BOS/EOS of their own or not
            base = torch.cat([full[:1], full[start:end], full[-1:]]) if wrapped else full[start:end]
            # as few batches as the batch size allows, of equal size (300 by <= 217 -> 2 x 150)
            n_batches = -(-len(rows) // self._batch_size_for(len(base) - 2))
            for chunk in np.array_split(np.asarray(rows), n_batches):
                # the masked site's token index in the window
                at = torch.tensor([positions[r] - start + wrapped for r in chunk])
                batch = base.repeat(len(chunk), 1)
                batch[torch.arange(len(chunk)), at] = self.alphabet.mask_idx
                out[chunk] = self._log_probs(batch, at).numpy()
                if progress:
                    progress.update(len(chunk))
        return out

    def wt_marginals(self, sequence: str, progress: Progress | None = None) -> np.ndarray:
        """Log-probabilities over the vocabulary at every position from unmasked passes: (L, V).

        One pass over the whole sequence when it fits the context. A longer protein is run in
        overlapping windows of ``max_residues`` (:func:`~esm1v_scan.scoring.planning.wt_windows`: a new
        window every ``max_residues // 2`` residues, the last one clamped to the protein's end), and
        each position's log-probabilities are the weighted mean of the windows that hold it, with
        the weights of :func:`~esm1v_scan.scoring.planning.blend_weights` (1 + distance to the nearest
        window edge that cuts context off, normalised per position). The score log p(mt) - log
        p(wt) is therefore the same weighted mean of the windows' scores.
        """
        L = len(sequence)
        if self.long_windows != "esm1v-scan" and L > self.max_residues:
            raise ValueError(f"long_windows: {self.long_windows} is defined for masked marginals "
                             f"only; wt-marginals of a protein longer than {self.max_residues} "
                             "residues takes long_windows: esm1v-scan")
        full = self.tokens(sequence)
        windows = wt_windows(L, self.max_residues)
        weights = blend_weights(windows, L)
        out = np.zeros((L, len(self.alphabet.all_toks)), dtype=np.float64)
        for k, (start, end) in enumerate(windows):
            toks = torch.cat([full[:1], full[start + 1 : end + 1], full[-1:]])[None]
            with torch.inference_mode(), self._autocast():
                logits = self.model(toks.to(self.device))["logits"][0, 1 : end - start + 1].float()
            self.forward_passes += 1
            lp = torch.log_softmax(logits, dim=-1).cpu().numpy().astype(np.float64)
            out[start:end] += weights[k, start:end, None] * lp
        if progress:
            progress.update(L)
        return out.astype(np.float32)

    # -- pseudo-log-likelihoods (in-frame indels: esm1v_scan.scoring.indels) ---------------------------
    def _check_fits(self, sequences: Sequence[str]) -> None:
        for k, seq in enumerate(sequences):
            if not seq or len(seq) > self.max_residues:
                raise ValueError(
                    f"sequence {k + 1} has {len(seq)} residues; a pseudo-log-likelihood pass takes "
                    f"1 to {self.max_residues} (crop it first: esm1v_scan.scoring.indels.indel_windows)"
                )

    def unmasked_marginals(self, sequences: Sequence[str],
                           progress: Progress | None = None) -> list[np.ndarray]:
        """Log-probabilities over the vocabulary at every residue of each sequence, from ONE
        unmasked forward pass per sequence: a list of (len(s), V) float32 arrays.

        Each sequence is run whole (BOS + residues + EOS; at most ``max_residues``, else
        ValueError), through fair-esm's plain ``model(tokens)`` with the scorer's device and
        precision. Sequences of equal length are stacked into batches (no padding, so the
        numbers equal one pass per sequence); residue i (0-based) is read at token i + 1.
        """
        self._check_fits(sequences)
        out: list[np.ndarray | None] = [None] * len(sequences)
        by_length: dict[int, list[int]] = {}
        for k, seq in enumerate(sequences):
            by_length.setdefault(len(seq), []).append(k)
        for length, members in by_length.items():
            n_batches = -(-len(members) // self._batch_size_for(length, plain=True))
            for chunk in np.array_split(np.asarray(members), n_batches):
                batch = torch.stack([self.tokens(sequences[k]) for k in chunk]).to(self.device)
                with torch.inference_mode(), self._autocast():
                    logits = self.model(batch)["logits"][:, 1 : length + 1].float()
                self.forward_passes += len(chunk)
                lp = torch.log_softmax(logits, dim=-1).cpu().numpy()
                for row, k in enumerate(chunk):
                    out[k] = lp[row]
                if progress:
                    progress.update(len(chunk))
        return out  # type: ignore[return-value]

    def residue_log_probs(self, sequences: Sequence[str], exact: bool = False,
                          progress: Progress | None = None) -> list[np.ndarray]:
        """Per residue of each sequence s, log p(s_i | context): a list of (len(s),) arrays.

        ``exact=False``: the context is s itself, unmasked (one pass per sequence,
        :meth:`unmasked_marginals`). ``exact=True``: s with residue i masked (one masked pass per
        residue, :meth:`masked_marginals`): the pseudo-log-likelihood of the ESM-1v paper.
        Sequences must fit ``max_residues``."""
        self._check_fits(sequences)
        if exact:
            lps = [self.masked_marginals(seq, progress=progress) for seq in sequences]
        else:
            lps = self.unmasked_marginals(sequences, progress)
        a = self.alphabet
        return [lp[np.arange(len(seq)), [a.get_idx(c) for c in seq]].astype(np.float64)
                for seq, lp in zip(sequences, lps)]

    def pll(self, sequences: Sequence[str], exact: bool = False) -> np.ndarray:
        """Pseudo-log-likelihood of each sequence: the sum of :meth:`residue_log_probs`."""
        return np.array([lp.sum() for lp in self.residue_log_probs(sequences, exact)])

    def score(
        self,
        sequence: str,
        strategy: str = "masked-marginals",
        positions: Sequence[int] | None = None,
        progress: Progress | None = None,
    ) -> pd.DataFrame:
        """The per-model score table (see :mod:`esm1v_scan.scoring.score_tables`) for one sequence."""
        if strategy == "masked-marginals":
            positions = list(range(1, len(sequence) + 1)) if positions is None else list(positions)
            lp = self.masked_marginals(sequence, positions, progress)
        elif strategy == "wt-marginals":
            lp_all = self.wt_marginals(sequence, progress)
            positions = list(range(1, len(sequence) + 1)) if positions is None else list(positions)
            lp = lp_all[np.asarray(positions) - 1]
        else:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        wt_tok = [self.alphabet.get_idx(sequence[p - 1]) for p in positions]
        lp_wt = lp[np.arange(len(positions)), wt_tok]
        return score_table(sequence, positions, lp[:, self.aa_idx.numpy()], lp_wt)


@torch.inference_mode()
def reference_masked_marginals(
    loaded: LoadedModel, sequence: str, positions: Sequence[int] | None = None
) -> np.ndarray:
    """The plain loop, as fair-esm's ``examples/variant-prediction/predict.py`` does it: one masked
    copy per forward pass, fp32, batch 1, on the device the model is on. Returns (n, 20)
    log-probabilities (AMINO_ACIDS order) at ``positions`` (1-based, default all). Used by the
    parity test and the benchmark as the reference."""
    model, alphabet = loaded.model.eval(), loaded.alphabet
    device = next(model.parameters()).device
    _, _, batch_tokens = alphabet.get_batch_converter()([("seq", sequence)])
    batch_tokens = batch_tokens.to(device)
    aa = [alphabet.get_idx(a) for a in AMINO_ACIDS]
    out = []
    for i in positions or range(1, len(sequence) + 1):
        masked = batch_tokens.clone()
        masked[0, i] = alphabet.mask_idx
        token_probs = torch.log_softmax(model(masked)["logits"], dim=-1)
        out.append(token_probs[0, i, aa].cpu().numpy())
    return np.stack(out)
