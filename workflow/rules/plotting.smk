# Heatmaps of the ensemble scores, one figure (PNG + SVG) per sequence, in the report.


for shard in SHARDS:

    rule:
        name:
            f"heatmap_{shard.id}"
        input:
            per_sequence("results/{name}/ensemble.tsv", shard),
        output:
            png=[
                report(
                    path,
                    caption="../report/heatmap.rst",
                    category="Heatmaps",
                    labels={"sequence": name, "figure": "heatmap"},
                )
                for path, name in zip(
                    per_sequence("results/{name}/heatmap.png", shard), shard.names
                )
            ],
            svg=per_sequence("results/{name}/heatmap.svg", shard),
        log:
            f"logs/heatmap/{shard.id}.log",
        localrule: True
        conda:
            "../../envs/base.yaml"
        params:
            names=shard.names,
            ids=[p.id for p in shard.proteins],
            row_width=config["heatmap"]["row_width"],
            value=config["heatmap"]["value"],
        script:
            "../scripts/heatmap.py"
