"""Generate a synthetic BRAT corpus into the rule's output folder."""

from clinprompt.atomic import atomic_directory
from clinprompt.scripting import run_step
from clinprompt.synth.corpora import write_synthetic_corpus


def synthesise(settings: dict, out: str) -> None:
    with atomic_directory(out) as folder:
        write_synthetic_corpus(
            settings["kind"],
            folder,
            seed=settings["seed"],
            documents=settings.get("documents"),
            institutions=settings.get("institutions"),
        )


run_step(snakemake.log[0], synthesise, snakemake.params.synthetic, snakemake.output[0])
