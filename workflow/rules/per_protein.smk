# Per-protein files for small runs (config per_protein): results/{name}/scores/{model}.tsv,
# ensemble.tsv, top_mutations.tsv, the heatmap (PNG + SVG) and the report's pages of each protein
# (overview, heatmap and tables: report_pages; rules/common.smk protein_report), cut from the
# shard's tables. One small local job per shard; its outputs name every file, so one deleted by
# hand is made again (rule all asks for the shard's index results/shards/{shard}/proteins.tsv).


for shard in SHARDS if PER_PROTEIN else []:

    rule:
        name:
            f"protein_files_{shard.id}"
        input:
            scores=shard_scores(shard.id),
            ensemble=f"results/shards/{shard.id}/ensemble.parquet",
            jobs=[f"results/provenance/jobs/{m}/{shard.id}.json" for m in MODELS],
        output:
            # the list of the shard's proteins, first: rule all asks for it (policy.final_targets)
            index=protein_index(shard.id),
            scores=[
                f"results/{p.name}/scores/{m}.tsv"
                for p in shard.proteins
                for m in MODELS
            ],
            # every model's score is a column of ensemble.tsv: in the report, not scores/*.tsv
            ensemble=[
                protein_report(p.name, "ensemble.tsv", "tables.rst", "ensemble (TSV)")
                for p in shard.proteins
            ],
            matrix=[
                protein_report(p.name, "matrix.tsv", "tables.rst", "matrix (TSV)")
                for p in shard.proteins
            ],
            positions=[
                protein_report(
                    p.name, "positions.tsv", "tables.rst", "positions (TSV)"
                )
                for p in shard.proteins
            ],
            png=[f"results/{p.name}/heatmap.png" for p in shard.proteins],
            svg=[f"results/{p.name}/heatmap.svg" for p in shard.proteins],
            html=[
                protein_report(
                    p.name,
                    "heatmap.html",
                    "heatmap_html.rst",
                    "3. interactive heatmap",
                )
                for p in shard.proteins
            ],
            top=[
                protein_report(
                    p.name,
                    "top_mutations.tsv",
                    "top_mutations.rst",
                    "top mutations (TSV)",
                )
                for p in shard.proteins
            ],
            overview_png=[f"results/{p.name}/overview.png" for p in shard.proteins],
            overview=[
                protein_report(p.name, "overview.html", "overview.rst", "1. overview")
                for p in shard.proteins
            ],
            heatmap_view=[
                protein_report(
                    p.name, "heatmap_view.html", "heatmap.rst", "2. heatmap"
                )
                for p in shard.proteins
            ],
            matrix_html=[
                protein_report(p.name, "matrix.html", "tables.rst", "6. matrix")
                for p in shard.proteins
            ],
            positions_html=[
                protein_report(p.name, "positions.html", "tables.rst", "5. positions")
                for p in shard.proteins
            ],
            top_html=[
                protein_report(
                    p.name,
                    "top_mutations.html",
                    "top_mutations.rst",
                    "4. top mutations",
                )
                for p in shard.proteins
            ],
        log:
            f"logs/protein_files/{shard.id}.log",
        localrule: True
        conda:
            "../../envs/base.yaml"
        params:
            models=MODELS,
            heatmap=config["heatmap"],
            top_mutations=config["top_mutations"],
            offsets=shard_offsets(shard),
            marks=shard_marks(shard),
        script:
            "../scripts/protein_files.py"
