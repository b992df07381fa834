from snakemake.utils import min_version

from clinprompt.config import validate_or_exit

min_version("9.0")


# The embedded default, unless --configfile names complete configs (e.g. config/paper.yaml).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate_or_exit(config, workflow.source_path("workflow/schemas/config.schema.yaml"))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
