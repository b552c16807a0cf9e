# Per-protein files for small runs (config per_protein): results/{name}/scores/{model}.tsv,
# ensemble.tsv and the heatmap (PNG + SVG, in the report), cut from the shard's tables. One small
# local job per shard; its outputs name every file, so one deleted by hand is made again
# (rule all asks for the shard's index results/shards/{shard}/proteins.tsv).


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
            ensemble=[f"results/{p.name}/ensemble.tsv" for p in shard.proteins],
            matrix=[
                report(
                    f"results/{p.name}/matrix.tsv",
                    caption="../report/tables.rst",
                    category="Tables",
                    labels={"sequence": p.name, "table": "matrix"},
                )
                for p in shard.proteins
            ],
            positions=[
                report(
                    f"results/{p.name}/positions.tsv",
                    caption="../report/tables.rst",
                    category="Tables",
                    labels={"sequence": p.name, "table": "positions"},
                )
                for p in shard.proteins
            ],
            png=[
                report(
                    f"results/{p.name}/heatmap.png",
                    caption="../report/heatmap.rst",
                    category="Heatmaps",
                    labels={"sequence": p.name, "figure": "heatmap"},
                )
                for p in shard.proteins
            ],
            svg=[f"results/{p.name}/heatmap.svg" for p in shard.proteins],
            html=[
                report(
                    f"results/{p.name}/heatmap.html",
                    caption="../report/heatmap_html.rst",
                    category="Heatmaps",
                    labels={"sequence": p.name, "figure": "interactive"},
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
            offsets=shard_offsets(shard),
            marks=shard_marks(shard),
        script:
            "../scripts/protein_files.py"
