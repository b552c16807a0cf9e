"""A faster forward pass for masked-marginal scans, on fair-esm's own modules and weights.

:class:`FastMaskedLM` computes exactly what ``ProteinBertModel.forward`` computes for the ESM-1b
architecture that ESM-1v uses (pre-norm transformer, learned positions, token-dropout scaling,
RoBERTa LM head), but only what a masked-marginal scan reads: the logits at the one masked position
of each copy. It holds no weights of its own in fp32 (it reads the model's parameters) and forks no
model code it does not need; the plain ``model(tokens)`` path stays available for comparison
(``LocalScorer(fast=False)``). What differs from the plain forward, and why:

1. The last layer's attention query, its feed-forward block, the final layer norm and the LM head
   run only at the masked position (the other positions' outputs are never read): one layer of 33
   and the head are nearly free.
2. Linear layers are >90% of a pass (torch.profiler, L = 300, fp32: the rest is attention's two
   batched products ~4%, softmax ~2%, copies and norms ~1%), so what matters is the matrix-multiply
   kernel. On CPU they run through whichever of two kernels is faster on that kind of CPU
   (:func:`onednn_preferred`): oneDNN's (``torch.ops.mkldnn._linear_pointwise``, as
   torch.compile's CPU backend uses them, GELU and residual add fused into the multiply) on
   AVX-512 / AMX CPUs, where they reach ~200 GFLOP/s at ESM-1v's shapes against the default
   BLAS's ~130; MKL's (``torch.addmm``, the residual added by the multiply itself) on AVX2-only
   CPUs, where MKL is the faster one by 10-20%. On a GPU, ``F.linear`` / ``torch.addmm``.
3. The q, k, v projections run as one matrix multiply (their weights are re-seated, unchanged, into
   one tensor, so no memory is duplicated). Attention in fp32 keeps fair-esm's order of operations;
   in bf16/fp16 it is ``F.scaled_dot_product_attention`` (flash kernels, no T x T matrix held).
4. bf16 / fp16: the weights are cast once (autocast casts them again in every pass), the matrix
   multiplies and attention run in that precision, the residual stream, layer norms, softmax and
   LM head stay in fp32. What remains is the rounding of the matrix multiplies' own operands, and
   that alone is the error: on the random full-size model (L = 100, 8 positions, bf16 rounding
   emulated in fp32 one source at a time) rounding only the weights moves log p by up to 0.097,
   only the inputs 0.099, only the outputs 0.103; all of them (this path) 0.17-0.19, Spearman
   0.9991-0.9993. No choice of what else stays fp32 brings bf16 under 0.05 there.

In fp32 it equals the plain forward to rounding (tests/test_scoring.py checks 1e-5 against the
one-mask-per-pass loop). Inputs are unpadded batches of equal-length copies, which is what the scan
makes.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@contextmanager
def _without_onednn():
    """torch's own kernels instead of oneDNN's for the ops inside (a process-wide switch)."""
    was = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = was


def supports(model) -> str | None:
    """None if the fast path can run this model, else why not (then the plain forward is used)."""
    if getattr(model, "model_version", None) != "ESM-1b":
        return f"architecture {getattr(model, 'model_version', type(model).__name__)} (ESM-1b/1v only)"
    for layer in model.layers:
        attn = layer.self_attn
        if attn.bias_k is not None or attn.add_zero_attn or attn.rot_emb is not None:
            return "attention with extra key/value bias or rotary embeddings"
    return None


def onednn_available(dtype: torch.dtype = torch.float32) -> bool:
    """Whether oneDNN's fused linear kernels can run ``dtype`` on this CPU. Its bf16 kernels need
    AVX512-BF16/AMX, AVX512 (bw, vl, dq) or AVX-NE-CONVERT: on a CPU without them (e.g. an AMD EPYC
    without AVX512) packing a bf16 weight fails, so bf16 then runs through plain ``F.linear``."""
    if not (
        torch.backends.mkldnn.is_available()
        and hasattr(torch.ops, "mkldnn")
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    ):
        return False
    if dtype == torch.bfloat16:
        probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return bool(probe is not None and probe())
    return dtype == torch.float32


def onednn_preferred(dtype: torch.dtype = torch.float32) -> bool:
    """Whether the CPU fast forward runs its linear layers through oneDNN (else the default BLAS,
    MKL, through ``torch.addmm``): where oneDNN has the kernels and they are the faster ones.

    bf16: oneDNN wherever it has bf16 kernels (AVX512-BF16 / AMX: its packed weights and fused
    epilogues; elsewhere torch's bf16 matmul is a slow fallback either way). fp32: oneDNN on
    AVX-512 CPUs (an AVX-512 AMD EPYC VM measured ~200 GFLOP/s against MKL's ~130 at ESM-1v's
    shapes), MKL on AVX2-only CPUs (a 2-core AVX2 AMD EPYC VM measured MKL at 145-159 GFLOP/s
    against oneDNN's 120-139 at the same shapes, 1-4 copies of 302 tokens, interleaved medians).
    A fixed rule rather than a timing at start-up, so the same machine always rounds the same way.
    """
    if not onednn_available(dtype):
        return False
    if dtype == torch.bfloat16:
        return True
    return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


@dataclass
class _Linear:
    """One linear layer in the form the kernel wants (oneDNN-packed for CPU bf16)."""

    weight: torch.Tensor
    bias: torch.Tensor | None


@dataclass
class _Layer:
    ln1: torch.nn.Module
    qkv: _Linear | None  # all layers but the last
    q: _Linear | None  # the last layer: query at the mask only, keys and values everywhere
    kv: _Linear | None
    out: _Linear
    ln2: torch.nn.Module
    fc1: _Linear
    fc2: _Linear


def _fuse_qkv(attn) -> tuple[torch.Tensor, torch.Tensor]:
    """One (3E, E) weight and (3E,) bias for the q, k, v projections. The module's three weights
    and biases are re-seated as slices of them (values unchanged), so the plain forward still runs
    and the weights are not held twice; a second FastMaskedLM on the same model finds them fused."""
    fused = []
    for kind in ("weight", "bias"):
        parts = [getattr(getattr(attn, p), kind) for p in ("q_proj", "k_proj", "v_proj")]
        first = parts[0].data
        n = first.shape[0]
        already = all(
            p.data.is_contiguous()
            and p.data.untyped_storage().data_ptr() == first.untyped_storage().data_ptr()
            and p.data.storage_offset() == first.storage_offset() + i * first.numel()
            for i, p in enumerate(parts)
        )
        if already:
            whole = torch.as_strided(first, (3 * n, *first.shape[1:]), first.stride(),
                                     first.storage_offset())
        else:
            whole = torch.cat([p.data for p in parts])
            for i, p in enumerate(parts):
                p.data = whole[i * n : (i + 1) * n]
        fused.append(whole)
    return fused[0], fused[1]


class FastMaskedLM:
    """Logits at the masked position of each copy, for one loaded ESM-1b/ESM-1v model.

    ``FastMaskedLM(model, device, "fp32")(tokens, at) -> (B, V)`` float32 logits, where
    ``tokens`` is a (B, T) batch without padding and ``at[b]`` the masked token index of copy b.
    """

    def __init__(self, model, device: torch.device, precision: str = "fp32", onednn: bool | None = None):
        why = supports(model)
        if why:
            raise ValueError(f"fast path unsupported: {why}")
        self.model = model
        self.device = torch.device(device)
        self.dtype = DTYPES[precision]
        if onednn is None:
            onednn = self.device.type == "cpu" and onednn_preferred(self.dtype)
        self.onednn = bool(onednn)
        args = model.args
        self.heads = args.attention_heads
        self.embed_dim = args.embed_dim
        self.layers = []
        E = self.embed_dim
        with torch.no_grad():
            for i, layer in enumerate(model.layers):
                attn = layer.self_attn
                w, b = _fuse_qkv(attn)
                last = i == len(model.layers) - 1
                self.layers.append(
                    _Layer(
                        ln1=layer.self_attn_layer_norm,
                        qkv=None if last else self._prepare(w, b),
                        q=self._prepare(w[:E], b[:E]) if last else None,
                        kv=self._prepare(w[E:], b[E:]) if last else None,
                        out=self._prepare(attn.out_proj.weight, attn.out_proj.bias),
                        ln2=layer.final_layer_norm,
                        fc1=self._prepare(layer.fc1.weight, layer.fc1.bias),
                        fc2=self._prepare(layer.fc2.weight, layer.fc2.bias),
                    )
                )
        self.scaling = model.layers[0].self_attn.scaling  # head_dim ** -0.5, as fair-esm

    # -- kernels ------------------------------------------------------------------------------
    def _prepare(self, weight: torch.Tensor, bias: torch.Tensor | None) -> _Linear:
        if self.dtype == torch.float32:
            return _Linear(weight, bias)  # the model's own tensors
        w = weight.detach().to(self.dtype)
        b = None if bias is None else bias.detach().to(self.dtype)
        if self.onednn:
            w = torch.ops.mkldnn._reorder_linear_weight(w, 512)  # oneDNN's blocked layout, once
        return _Linear(w, b)

    def _linear(self, x, lin: _Linear, gelu: bool = False, residual=None):
        """x @ W.T + b, then GELU (erf form, as fair-esm) or + residual; x is 2-D (tokens, features)."""
        if self.onednn:
            if residual is not None and self.dtype == torch.float32:
                return torch.ops.mkldnn._linear_pointwise.binary(x, residual, lin.weight, lin.bias, "add")
            y = torch.ops.mkldnn._linear_pointwise(x, lin.weight, lin.bias, "gelu" if gelu else "none",
                                                   [], "none" if gelu else "")
        elif residual is not None and residual.dtype == x.dtype:
            # the residual added inside the matrix multiply (beta = 1), then the bias
            y = torch.addmm(residual, x, lin.weight.t())
            return y if lin.bias is None else y.add_(lin.bias)
        else:
            y = F.linear(x, lin.weight, lin.bias)
            if gelu:
                y = F.gelu(y)
        return y if residual is None else residual + y

    def _norm(self, x, ln):
        """Layer norm in fp32 (as autocast does), result in the compute precision."""
        y = F.layer_norm(x, (self.embed_dim,), ln.weight, ln.bias, ln.eps)
        return y if self.dtype == torch.float32 else y.to(self.dtype)

    def _attention(self, q, k, v, batch: int):
        """q: (B*Tq, E), k, v: (B*T, E) -> (B*Tq, E); heads split from the feature axis.

        fp32: fair-esm's own order (scaled q, q k^T, softmax, times v), so the result stays within
        a few ulp of the plain forward (CPU flash attention's fast exp alone costs ~1e-5 in log p,
        for 0-5% of the time). bf16/fp16: flash attention, whose rounding is far below theirs."""
        h, d = self.heads, self.embed_dim // self.heads
        q = q.view(batch, -1, h, d).transpose(1, 2)
        k = k.view(batch, -1, h, d).transpose(1, 2)
        v = v.view(batch, -1, h, d).transpose(1, 2)
        if self.dtype == torch.float32:
            # (not through oneDNN: its batched matmul compiles a kernel for every new shape,
            # i.e. for every protein length, ~0.2 s each)
            with _without_onednn():
                weights = torch.softmax(torch.matmul(q * self.scaling, k.transpose(-1, -2)), dim=-1)
                o = torch.matmul(weights, v)
        else:
            o = F.scaled_dot_product_attention(q, k, v, scale=self.scaling)
        return o.transpose(1, 2).reshape(-1, self.embed_dim)

    # -- forward ------------------------------------------------------------------------------
    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """fair-esm's embedding, token-dropout scaling and positions: (B, T, E) fp32."""
        m = self.model
        if tokens.eq(m.padding_idx).any():
            raise ValueError("the fast path takes unpadded batches")
        x = m.embed_scale * m.embed_tokens(tokens)
        if getattr(m.args, "token_dropout", False):
            is_mask = tokens == m.mask_idx
            x = x.masked_fill(is_mask.unsqueeze(-1), 0.0)
            mask_ratio_train = 0.15 * 0.8
            mask_ratio_observed = is_mask.sum(-1).float() / tokens.shape[1]
            x = x * (1 - mask_ratio_train) / (1 - mask_ratio_observed)[:, None, None]
        x = x + m.embed_positions(tokens)
        if m.emb_layer_norm_before:
            x = m.emb_layer_norm_before(x)
        return x

    @torch.inference_mode()
    def __call__(self, tokens: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        tokens = tokens.to(self.device)
        at = at.to(self.device)
        B, T = tokens.shape
        E = self.embed_dim
        x = self.embed(tokens).reshape(B * T, E)
        for layer in self.layers[:-1]:
            h = self._norm(x, layer.ln1)
            q, k, v = self._linear(h, layer.qkv).split(E, dim=1)
            a = self._attention(q, k, v, B)
            x = self._linear(a, layer.out, residual=x)
            h = self._norm(x, layer.ln2)
            x = self._linear(self._linear(h, layer.fc1, gelu=True), layer.fc2, residual=x)
        # last layer: keys and values from every position, everything else only at the mask
        last = self.layers[-1]
        rows = torch.arange(B, device=self.device) * T + at
        h = self._norm(x, last.ln1)
        k, v = self._linear(h, last.kv).split(E, dim=1)
        q = self._linear(h[rows].contiguous(), last.q)
        a = self._attention(q, k, v, B)
        x = self._linear(a, last.out, residual=x[rows].contiguous())
        h = self._norm(x, last.ln2)
        x = self._linear(self._linear(h, last.fc1, gelu=True), last.fc2, residual=x)
        x = self.model.emb_layer_norm_after(x.float())
        return self.model.lm_head(x).float()
