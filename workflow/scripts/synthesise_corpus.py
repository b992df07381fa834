"""Generate a synthetic BRAT corpus into the rule's output folder."""

from clinprompt.synth import write_synthetic_corpus

from clinprompt.atomic import atomic_directory
from clinprompt.scripting import run_step


def synthesise(settings: dict, out: str) -> None:
    with atomic_directory(out) as folder:
        write_synthetic_corpus(
            settings["kind"],
            folder,
            seed=settings["seed"],
            documents=settings["documents"],
            institutions=settings["institutions"],
        )


run_step(snakemake.log[0], synthesise, snakemake.params.synthetic, snakemake.output[0])
