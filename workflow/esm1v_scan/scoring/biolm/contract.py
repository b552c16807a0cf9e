"""BioLM's ESM-1v API contract: endpoints, the masked items sent and the answers read back.

``esm1v-n1`` .. ``esm1v-n5`` and ``esm1v-all``; at most 5 items of one ``<mask>`` each per request;
20 answers per item sorted by score (see the project's notes on the API).
"""

from __future__ import annotations

import math
import re

from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.models import ESM1V_MODELS, check_model_name
from esm1v_scan.scoring.planning import window_bounds
from esm1v_scan.scoring.biolm.errors import BadResponse

MASK = "<mask>"
ALL_ENDPOINT = "esm1v-all"
SLUGS = tuple(f"esm1v-n{k}" for k in range(1, 6))
#: the API's limit on items per request
API_MAX_ITEMS = 5
#: residues the API accepts besides <mask>
API_ALPHABET = frozenset(AMINO_ACIDS + "BXZUO")

_ITEM_INDEX = re.compile(r"items(?:__|\W+)(\d+)")

#: The 20 scores are part of one softmax over the model's whole vocabulary (33 tokens), so each lies
#: in (0, 1] and their exact sum is below 1 (0.959 to 0.999 in a real answer). The server computes
#: them in float32: each value carries a relative error of about 6e-8, so a computed sum can exceed
#: 1 by ~1e-6 at most when the other 13 tokens hold next to nothing. 1e-4 leaves a margin of 100x
#: over that and still refuses anything that is not a softmax (percentages, logits, sums of 10).
MAX_SUM = 1 + 1e-4


def model_slug(model: str) -> str:
    """``esm1v_t33_650M_UR90S_3`` -> ``esm1v-n3``."""
    check_model_name(model)
    return f"esm1v-n{ESM1V_MODELS.index(model) + 1}"


def masked_item(sequence: str, site: int, window: int) -> str:
    """The item for 1-based ``site``: the (windowed) sequence with that residue as ``<mask>``."""
    start, end = window_bounds(site, len(sequence), window)
    return sequence[start : site - 1] + MASK + sequence[site:end]


def _is_probability(score) -> bool:
    """A number in (0, 1]: 0 would be log p = -inf, and NaN fails both comparisons."""
    return not isinstance(score, bool) and isinstance(score, int | float) and 0.0 < score <= 1.0


def _check_entry(entry, what: str, seen: dict, item: int | None) -> tuple[str, float]:
    if not isinstance(entry, dict):
        raise BadResponse(f"{what}: an entry is not an object", item)
    aa, score = entry.get("token_str"), entry.get("score")
    if aa not in AMINO_ACIDS or len(aa) != 1:
        raise BadResponse(f"{what}: unexpected token_str {aa!r}", item)
    if aa in seen:
        raise BadResponse(f"{what}: amino acid {aa} appears twice", item)
    if not _is_probability(score):
        raise BadResponse(f"{what}: score of {aa} is {score!r}, not a probability in (0, 1]", item)
    return aa, float(score)


def check_probabilities(probs: dict[str, float], what: str, item: int | None = None) -> None:
    """Raise BadResponse unless ``probs`` holds the 20 amino acids, each in (0, 1], summing to at
    most MAX_SUM (also used on the response cache's entries)."""
    missing = [a for a in AMINO_ACIDS if a not in probs]
    if missing:
        raise BadResponse(f"{what}: {len(probs)} entries, missing amino acids {''.join(missing)}", item)
    bad = next((a for a in AMINO_ACIDS if not _is_probability(probs[a])), None)
    if bad is not None:
        raise BadResponse(f"{what}: score of {bad} is {probs[bad]!r}, not a probability in (0, 1]", item)
    total = math.fsum(probs[a] for a in AMINO_ACIDS)
    if total > MAX_SUM:
        raise BadResponse(f"{what}: the 20 scores sum to {total:.6g}, more than 1 (they are part of "
                          "one softmax over the vocabulary)", item)


def parse_entries(entries, what: str, item: int | None = None) -> dict[str, float]:
    """One model's answer for one item: 20 ``{token_str, score}`` entries (any order) -> aa -> p.
    ``item`` (the item's index in its request) is carried by the BadResponse raised."""
    if not isinstance(entries, list):
        raise BadResponse(f"{what}: expected a list of 20 entries, got {type(entries).__name__}", item)
    out: dict[str, float] = {}
    for entry in entries:
        aa, score = _check_entry(entry, what, out, item)
        out[aa] = score
    check_probabilities(out, what, item)
    return out


def _parse_all_models(result, i: int) -> dict[str, dict[str, float]]:
    if not isinstance(result, dict):
        raise BadResponse(f"item {i}: expected an object keyed by model", i)
    missing = [s for s in SLUGS if s not in result]
    if missing:
        raise BadResponse(f"item {i}: no answer for {', '.join(missing)}", i)
    return {s: parse_entries(result[s], f"item {i} {s}", i) for s in SLUGS}


def parse_results(payload, endpoint: str, n_items: int) -> list[dict[str, dict[str, float]]]:
    """A 200 answer -> per item, slug -> aa -> score (for esm1v-nK only that slug)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise BadResponse("the answer has no 'results' list")
    results = payload["results"]
    if len(results) != n_items:
        raise BadResponse(f"{len(results)} results for {n_items} items")
    if endpoint == ALL_ENDPOINT:
        return [_parse_all_models(result, i) for i, result in enumerate(results)]
    return [{endpoint: parse_entries(result, f"item {i}", i)} for i, result in enumerate(results)]


def failed_item(payload) -> int | None:
    """The index of the offending item in a validation error, in either known shape:
    ``{"error": {"items__0__sequence": [...]}}`` or ``{"detail":..., "errors": [{"loc": [...]}]}``."""
    if not isinstance(payload, dict):
        return None
    err = payload.get("error")
    for key in err if isinstance(err, dict) else ():
        m = _ITEM_INDEX.search(str(key))
        if m:
            return int(m.group(1))
    for e in payload.get("errors") or []:
        loc = e.get("loc") if isinstance(e, dict) else None
        if isinstance(loc, list) and "items" in loc:
            after = loc[loc.index("items") + 1 :]
            if after and isinstance(after[0], int):
                return after[0]
    return None


def is_error_payload(payload) -> bool:
    """A validation error sent with status 200 (v3 may do so): error/detail keys, no results."""
    return isinstance(payload, dict) and "results" not in payload and ("error" in payload or "detail" in payload)
