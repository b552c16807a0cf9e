"""The scoring engine: models and weights, the mask plan, the local and BioLM backends, the
score cache, per-model score tables and the ensemble."""
