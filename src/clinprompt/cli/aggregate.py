"""`clinprompt aggregate METRICS... --grid GRID --out DIR`: the study's tables and figures.

Reads the metrics JSON of grid cells and the grid Parquet (`results/tables/grid.parquet` in the
workflow) and writes, as the workflow does, `DIR/tables/metrics.parquet` (the tidy table),
`DIR/tables/{table}.parquet|html|tex` and `DIR/figures/{figure}.png|svg`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `aggregate` command."""
    aggregate = subparsers.add_parser(
        "aggregate", help="tidy metrics table, paper tables and figures from metrics files"
    )
    aggregate.add_argument("metrics", type=Path, nargs="+", help="metrics JSON of grid cells")
    aggregate.add_argument("--grid", type=Path, required=True, help="the grid as Parquet")
    aggregate.add_argument("--out", type=Path, required=True, help="folder for tables/, figures/")
    aggregate.set_defaults(handler=run_aggregate)


def run_aggregate(args: argparse.Namespace) -> int:
    """Write the tidy table, every table and every figure."""
    from clinprompt.atomic import atomic_write_parquet
    from clinprompt.report.figures import write_figures
    from clinprompt.report.tables import paper_tables, write_table
    from clinprompt.report.tidy import read_grid, read_scores, tidy_frame

    scores = read_scores(args.metrics, read_grid(args.grid))
    tidy = tidy_frame(scores)
    atomic_write_parquet(tidy, args.out / "tables" / "metrics.parquet")
    for table in paper_tables(scores):
        write_table(table, args.out / "tables")
    write_figures(tidy, args.out / "figures")
    print(f"{len(scores)} metrics files -> {args.out}/tables, {args.out}/figures")
    return 0
