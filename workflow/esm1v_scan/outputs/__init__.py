"""Derived tables, figures and pages: per-protein tables, heatmaps, evaluation, structures
with scores, the landing summary and provenance."""
