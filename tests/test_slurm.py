"""The SLURM profile, and the workflow run through it on a real single-node SLURM cluster.

The profile tests run everywhere. The cluster tests start SLURM with
`tests/cluster/start-slurm.sh` (root, and apt when the packages are missing; skipped with the
reason otherwise) and run a tiny grid - two drug_ade cells of tiny-bert plus a dataset with a
corrupted annotation file - with `snakemake --profile slurm` in a copy of the workflow, while
the same cells run locally for reference. One training job is requeued mid-run, as SLURM does
on preemption (SIGTERM, then the kill, then the job again).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.cli import get_profile_dir
from snakemake.profiles import ProfileConfigFileParser

from clinprompt.registry import model_registry
from clinprompt.synth.corpora import write_synthetic_corpus
from tests.conftest import REPO, job_counts

HARNESS = REPO / "tests/cluster"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "envs", "profiles", "slurm")
# What start-slurm.sh sets up, given to the profile the way a site would.
SITE = {
    "CLINPROMPT_SLURM_ACCOUNT": "clinprompt",
    "CLINPROMPT_SLURM_PARTITION": "cpu",
    "CLINPROMPT_SLURM_GPU_PARTITION": "gpu",
    "CLINPROMPT_SLURM_GPU_MODEL": "fake",
}
MODELS = {"tiny-bert": {"path": "tiny:bert", "threads": 1, "memory_gb": 1, "runtime_minutes": 10}}
CELLS = ("drug_ade/tiny-bert/finetune/p0/kall/MIMIC/seed1",
         "drug_ade/tiny-bert/soft/p2/kall/MIMIC/seed1")  # fmt: skip
PREEMPTED = CELLS[0]
PREEMPTED_COMMENT = "rule_train_cell_wildcards_drug_ade_tiny-bert_finetune_0_all_MIMIC_1"
BAD_LINE = "T999\tDrug 5 two\tx\n"
# Measured on the machine, not computed: they differ between any two runs.
MEASURED = {"train_seconds", "predict_seconds", "wall_seconds", "seconds", "tokens_per_second",
            "peak_memory_mb"}  # fmt: skip


def profile(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict:
    """The profile as Snakemake reads it, under `environment`'s site settings."""
    for name in SITE:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with open(REPO / "profiles/slurm/config.yaml", encoding="utf-8") as stream:
        return dict(ProfileConfigFileParser().parse(stream))


def test_profile_is_found_by_name_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(REPO)
    _, config_file = get_profile_dir("slurm")
    assert config_file.resolve() == REPO / "profiles/slurm/config.yaml"
    assert not (REPO / "profiles/default").exists()


def test_profile_takes_site_settings_from_the_environment(monkeypatch):
    bare = profile({}, monkeypatch)
    assert bare["executor"] == "slurm"
    assert bare["default-resources"] == ["mem_mb=4096 * attempt", "runtime=60 * attempt", "nodes=1"]
    assert "set-resources" not in bare
    site = profile({**SITE, "CLINPROMPT_SLURM_PARTITION": "all"}, monkeypatch)
    assert "slurm_account='clinprompt'" in site["default-resources"]
    assert "slurm_partition='all'" in site["default-resources"]  # a string, not Python's all()
    assert site["set-resources"] == ["train_cell:slurm_partition='gpu'",
                                     "train_cell:gpu_model='fake'"]  # fmt: skip


# ---------------------------------------------------------------------- the cluster


def cluster_unavailable() -> str | None:
    """Why this machine cannot host the test cluster, or None."""
    if os.geteuid() != 0:
        return "starting a SLURM cluster needs root"
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "SLURM is not installed and apt-get is not available to install it"
    return None


@pytest.fixture(scope="module")
def cluster():
    """A running single-node cluster; its daemons are stopped by PID afterwards."""
    reason = cluster_unavailable()
    if reason:
        pytest.skip(reason)
    try:
        started = subprocess.run(
            [HARNESS / "start-slurm.sh"], capture_output=True, text=True, check=False
        )
        assert started.returncode == 0, started.stdout + started.stderr
        yield
    finally:
        subprocess.run([HARNESS / "stop-slurm.sh", "--purge"], check=False)


def grid_config(broken: Path | None) -> dict:
    """Two tiny-bert cells of a small drug_ade corpus; with `broken`, one cell of that corpus."""
    config = {
        "datasets": {
            "drug_ade": {
                "schema": "n2c2-2018",
                "synthetic": {"kind": "drug_ade", "seed": 3, "documents": {"train": 6, "test": 2}},
            }
        },
        "corpus": {"dev_fraction": 0.2, "dev_seed": 1},
        "models": MODELS,
        "training": {"epochs": 4, "max_length": 96, "stride": 16, "match_hidden": 32,
                     "bootstrap": 10, "negative_ratio": 0.5},
        "grid": {
            "models": ["tiny-bert"], "seeds": [1], "prompt_lengths": [2], "keep_checkpoints": True,
            "experiments": {"main": {"datasets": ["drug_ade"], "strategies": ["finetune", "soft"]}},
        },
    }  # fmt: skip
    if broken is not None:
        config["datasets"]["broken"] = {
            "schema": "n2c2-2018",
            "parts": [
                {"split": split, "institution": "MIMIC", "path": str(broken / split / "MIMIC")}
                for split in ("train", "test")
            ],
        }
        config["grid"]["experiments"]["broken"] = {
            "datasets": ["broken"], "strategies": ["finetune"]
        }  # fmt: skip
    return config


def broken_corpus(folder: Path) -> Path:
    """A BRAT corpus whose first training annotation file ends in an unreadable line."""
    write_synthetic_corpus("drug_ade", folder, seed=5, documents={"train": 3, "test": 1})
    bad = sorted((folder / "train/MIMIC").glob("*.ann"))[0]
    bad.write_text(bad.read_text(encoding="utf-8") + BAD_LINE, encoding="utf-8")
    return folder


def workflow_copy(folder: Path, config: dict) -> Path:
    """The workflow (with the profile and its `slurm` link) in `folder`, running `config`."""
    folder.mkdir()
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_symlink():
            (folder / name).symlink_to(os.readlink(source))
        elif source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    (folder / "config/config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def job_state(job: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


def running_job(comment: str) -> str | None:
    """The id of the running SLURM job with this comment (rule and wildcards), if any."""
    queue = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i|%k"], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    ids = [line.split("|")[0] for line in queue.splitlines() if line.endswith(f"|{comment}")]
    return ids[0] if ids else None


def preempt_mid_training(run: subprocess.Popen, cell: Path, comment: str) -> str:
    """Once the cell's first epoch is logged, requeue its job as preemption does; return its id.

    SLURM sends the job SIGTERM, kills it 5 s later (KillWait) and queues it again, held for
    two minutes; the hold is lifted here so that the test does not wait.
    """
    epochs = cell / "train_log.jsonl"
    while run.poll() is None:
        job = running_job(comment) if epochs.is_file() and epochs.stat().st_size else None
        if job:
            subprocess.run(["scontrol", "requeue", job], check=True)
            deadline = time.monotonic() + 60
            while job_state(job) != "PENDING":
                assert time.monotonic() < deadline, f"job {job} was not requeued"
                time.sleep(0.2)
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)
            return job
        time.sleep(0.2)
    raise AssertionError("the workflow ended before its training job could be preempted")


SACCT_FIELDS = ("JobIDRaw", "Partition", "Account", "State", "ReqTRES", "Timelimit", "Comment")


def sacct(job_name: str) -> list[dict[str, str]]:
    """Accounting records of the jobs called `job_name` (a requeued job has one per run)."""
    out = subprocess.run(
        ["sacct", "-X", "-D", "-n", "-P", "--starttime", "now-1days", "--name", job_name,
         "-o", ",".join(SACCT_FIELDS)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    records = [dict(zip(SACCT_FIELDS, line.split("|"), strict=True)) for line in out.splitlines()]
    return sorted(records, key=lambda record: int(record["JobIDRaw"]))


def site_environment() -> dict[str, str]:
    """This process's environment with the local cluster's site settings."""
    return {**{k: v for k, v in os.environ.items() if k not in SITE}, **SITE}


@dataclass(frozen=True)
class Runs:
    """The same grid run locally and through the SLURM profile."""

    local: Path
    cluster: Path
    local_status: int
    cluster_status: int
    local_log: str
    log: str
    preempted_job: str
    jobs: list[dict[str, str]]


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("slurm")
    local = workflow_copy(root / "local", grid_config(None))
    remote = workflow_copy(root / "cluster", grid_config(broken_corpus(root / "broken")))
    with open(root / "local.log", "w") as local_log, open(root / "cluster.log", "w") as log:
        # The reference runs meanwhile, niced so that it does not slow the cluster's jobs.
        reference = subprocess.Popen(["nice", "-n", "19", SNAKEMAKE, "--cores", "2"], cwd=local,
                                     stdout=local_log, stderr=subprocess.STDOUT)  # fmt: skip
        # Fast status polling is the only test-specific option; the site comes from SITE.
        run = subprocess.Popen(
            [SNAKEMAKE, "--profile", "slurm", "--slurm-init-seconds-before-status-checks", "1"],
            cwd=remote, env=site_environment(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            job = preempt_mid_training(run, remote / "results" / PREEMPTED, PREEMPTED_COMMENT)
            run.wait(timeout=600)
            reference.wait(timeout=600)
        finally:
            for process in (run, reference):
                if process.poll() is None:
                    process.terminate()
                    process.wait()
    text = (root / "cluster.log").read_text()
    run_id = re.search(r"SLURM run ID: (\S+)", text)
    assert run_id, text[-3000:]
    return Runs(local, remote, reference.returncode, run.returncode,
                (root / "local.log").read_text(), text, job, sacct(run_id[1]))  # fmt: skip


def requests(record: dict[str, str]) -> dict[str, str]:
    """A job's requested trackable resources (cpu, mem, gres/gpu, ...)."""
    return dict(item.split("=", 1) for item in record["ReqTRES"].split(","))


def megabytes(value: str) -> int:
    return round(float(value[:-1]) * {"M": 1, "G": 1024, "T": 1024**2}[value[-1]])


def minutes(limit: str) -> int:
    days, _, clock = limit.rpartition("-")
    hours, mins, _ = (int(part) for part in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + mins


@pytest.mark.slurm
def test_every_job_ran_on_slurm_with_the_registry_requests(runs):
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", runs.log))
    assert {job["JobIDRaw"] for job in runs.jobs} == submitted
    assert {job["Account"] for job in runs.jobs} == {"clinprompt"}
    rules = " ".join(job["Comment"] for job in runs.jobs)
    for rule in ("synthesise_corpus", "validate_corpus", "corpus_tables", "corpus_statistics",
                 "train_cell", "score_cell", "cell_summary"):  # fmt: skip
        assert rule in rules, rules
    spec = model_registry(MODELS)["tiny-bert"]
    trained = set()
    for job in runs.jobs:
        tres = requests(job)
        if "train_cell" not in job["Comment"]:
            assert job["Partition"] == "cpu" and "gres/gpu" not in tres, job
            continue
        assert job["Partition"] == "gpu", job
        assert int(tres["gres/gpu"]) == int(tres["gres/gpu:fake"]) == spec.gpus
        assert int(tres["cpu"]) == spec.threads
        assert megabytes(tres["mem"]) == spec.memory_gb * 1024
        assert minutes(job["Timelimit"]) == spec.runtime_minutes
        if job["State"] == "COMPLETED":
            trained.add(job["Comment"])
    assert len(trained) == len(CELLS)


def without_measurements(value):
    if isinstance(value, dict):
        return {k: without_measurements(v) for k, v in value.items() if k not in MEASURED}
    if isinstance(value, list):
        return [without_measurements(v) for v in value]
    return value


def final_weights(cell: Path) -> dict[str, torch.Tensor]:
    return torch.load(cell / "checkpoint.pt", weights_only=False)["model"]


@pytest.mark.slurm
def test_cluster_outputs_equal_a_local_run(runs):
    for name in CELLS:
        local, remote = runs.local / "results" / name, runs.cluster / "results" / name
        metrics = sorted(p.relative_to(local) for p in local.rglob("metrics/*.json"))
        assert metrics
        for path in metrics:
            expected = without_measurements(json.loads((local / path).read_text()))
            assert without_measurements(json.loads((remote / path).read_text())) == expected
        predictions = sorted(p.relative_to(local) for p in local.rglob("predictions/*/*.ann"))
        assert predictions
        for path in predictions:
            assert (remote / path).read_bytes() == (local / path).read_bytes(), path
        expected, actual = final_weights(local), final_weights(remote)
        assert expected.keys() == actual.keys()
        assert all(torch.equal(expected[k], actual[k]) for k in expected), name
        local_train = json.loads((local / "train.json").read_text())
        remote_train = json.loads((remote / "train.json").read_text())
        for key in ("best_epoch", "best_dev_score", "epochs_run", "train_documents"):
            assert remote_train[key] == local_train[key], key
    assert runs.local_status == 0, runs.local_log[-3000:]


@pytest.mark.slurm
def test_preempted_training_job_is_requeued_and_resumes_from_its_checkpoint(runs):
    runs_of_job = [job["State"] for job in runs.jobs if job["JobIDRaw"] == runs.preempted_job]
    assert runs_of_job == ["REQUEUED", "COMPLETED"]
    train_log = (runs.cluster / "logs/train" / f"{PREEMPTED}.log").read_text()
    resumed = re.search(r"resumed from \S+checkpoint\.pt at epoch (\d+), batch (\d+)", train_log)
    assert resumed and int(resumed[2]) > 0, train_log  # a mid-epoch checkpoint: SIGTERM's
    cell = runs.cluster / "results" / PREEMPTED
    epochs = [json.loads(line)["epoch"] for line in (cell / "train_log.jsonl").open()]
    assert epochs == [1, 2, 3, 4]
    leftovers = [p for p in (runs.cluster / "results").rglob(".*") if ".tmp" in p.name]
    assert leftovers == []


@pytest.mark.slurm
def test_corrupted_input_fails_with_its_reason_while_the_rest_completes(runs):
    assert runs.cluster_status != 0
    reason = "non-integer offset in '5 two'"
    assert reason in runs.log
    assert reason in (runs.cluster / "logs/corpus/broken/validate.log").read_text()
    assert not (runs.cluster / "results/corpora/broken/validation.json").exists()
    for name in CELLS:
        assert (runs.cluster / "results" / name / "metrics/MIMIC.json").is_file()
    assert (runs.cluster / "results/corpora/drug_ade/statistics.html").is_file()


@pytest.mark.slurm
def test_failed_job_is_retried_once_with_doubled_memory_and_time(runs):
    failed = [job for job in runs.jobs if job["State"] == "FAILED"]
    assert len(failed) == 2 and all("validate_corpus" in job["Comment"] for job in failed)
    first, second = (requests(job) for job in failed)
    assert megabytes(second["mem"]) == 2 * megabytes(first["mem"])
    assert minutes(failed[1]["Timelimit"]) == 2 * minutes(failed[0]["Timelimit"])


@pytest.mark.slurm
def test_rerun_without_the_broken_dataset_plans_only_the_aggregation(runs):
    fixed = runs.cluster / "fixed.yaml"
    fixed.write_text(yaml.safe_dump(grid_config(None)), encoding="utf-8")
    dry = subprocess.run([SNAKEMAKE, "--profile", "slurm", "--configfile", fixed, "-n"],
                         cwd=runs.cluster, env=site_environment(), capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = job_counts(dry.stdout)
    assert set(counts) == {"grid_table", "aggregate_metrics", "paper_tables", "paper_figures",
                           "all", "total"}, dry.stdout  # fmt: skip
