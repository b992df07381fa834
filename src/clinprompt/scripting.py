"""Glue for `workflow/scripts/`: run one package function with its log, fail in one line.

In: the `snakemake` object of a script directive and the step function to call.
Out: the step's outputs; its log lines (counts only) in the rule's log file; on a user
error one `error:` line in that log and exit status 1, so Snakemake reports the rule and log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from clinprompt.errors import ClinpromptError


def run_step(log_path: str, step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `step` with logging into `log_path`; turn a `ClinpromptError` into exit 1."""
    logging.basicConfig(
        filename=log_path,
        filemode="w",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    try:
        return step(*args, **kwargs)
    except ClinpromptError as err:
        logging.getLogger(step.__module__).error("%s", err)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
