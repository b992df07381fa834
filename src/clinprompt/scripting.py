"""Glue for `workflow/scripts/`: run one package function with its log, fail in one line.

In: the `snakemake` object of a script directive and the step function to call.
Out: the step's outputs; its log lines (counts only), progress bars and anything else written
to stderr — by Python, by C/C++ libraries or by child processes — in the rule's log file, so
that parallel jobs (`--cores 2`) leave the terminal to Snakemake's own job lines; on a user
error the message in that log, one `error:` line on the terminal and exit status 1, so
Snakemake reports the rule and log.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from typing import Any

from clinprompt.errors import ClinpromptError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def logging_to(log_path: str) -> Iterator[None]:
    """Within the block, log records (INFO and up), `sys.stderr` and file descriptor 2 go to
    `log_path` (truncated); the previous handlers and stderr come back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with open(log_path, "w", encoding="utf-8", buffering=1) as log_file:
        handler = logging.StreamHandler(log_file)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        sys.stderr.flush()
        # Descriptor 2 too: handlers made before the redirect (transformers'), C++ warnings
        # and child processes write there, not to `sys.stderr`.
        terminal = os.dup(2)
        os.dup2(log_file.fileno(), 2)
        try:
            with redirect_stderr(log_file):
                yield
        finally:
            log_file.flush()
            os.dup2(terminal, 2)
            os.close(terminal)
            root.handlers = handlers
            root.setLevel(level)


def run_step(log_path: str, step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `step` with its output going to `log_path`; turn a `ClinpromptError` into exit 1."""
    with logging_to(log_path):
        try:
            return step(*args, **kwargs)
        except ClinpromptError as err:
            logging.getLogger(step.__module__).error("%s", err)
            failure = err
    print(f"error: {failure}", file=sys.stderr)
    sys.exit(1)
