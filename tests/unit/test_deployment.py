"""deploy.yaml: the schema's bounds, the quota on totals, the model's place, the environment
a candidate may set, and what a deployment costs per month."""

from __future__ import annotations

import pytest

from prodproven.graders.deployment import (
    DeployFile,
    DeploymentInvalid,
    Pricing,
    Quota,
    monthly_cost,
    parse_deploy,
)

QUOTA = Quota(cpus=2.0, memory_mb=8192)
GOOD = "model: models/medium.joblib\nreplicas: 2\ncpus: 0.5\nmemory_mb: 512\n"


def parse(text: str, quota: Quota = QUOTA) -> DeployFile:
    return parse_deploy(text, quota, models_dir="models")


def refused(text: str, quota: Quota = QUOTA) -> str:
    with pytest.raises(DeploymentInvalid) as info:
        parse(text, quota)
    return str(info.value)


def test_a_valid_file_is_read_with_its_totals() -> None:
    deploy = parse(GOOD + "env: {WORKERS: '2'}\n")
    assert (deploy.model, deploy.replicas, deploy.cpus, deploy.memory_mb) == (
        "models/medium.joblib",
        2,
        0.5,
        512,
    )
    assert deploy.env == {"WORKERS": "2"}
    assert (deploy.total_cpus, deploy.total_memory_mb) == (1.0, 1024)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("replicas", "6", "deploy.yaml: replicas: 6 is above the maximum of 4"),
        ("replicas", "0", "deploy.yaml: replicas: 0 is below the minimum of 1"),
        ("cpus", "0.1", "deploy.yaml: cpus: 0.1 is below the minimum of 0.25"),
        ("cpus", "2.5", "deploy.yaml: cpus: 2.5 is above the maximum of 2.0"),
        ("memory_mb", "64", "deploy.yaml: memory_mb: 64 is below the minimum of 128"),
        ("memory_mb", "4096", "deploy.yaml: memory_mb: 4096 is above the maximum of 2048"),
        ("replicas", "'2'", "deploy.yaml: replicas: '2' is not valid"),
    ],
)
def test_a_field_outside_its_bounds_is_refused_naming_field_and_value(
    field: str, value: str, message: str
) -> None:
    lines = [line for line in GOOD.splitlines() if not line.startswith(field)]
    assert refused("\n".join([*lines, f"{field}: {value}"])).startswith(message)


def test_a_missing_or_unknown_field_is_named() -> None:
    assert refused("model: models/a.joblib\nreplicas: 1\ncpus: 1\n") == (
        "deploy.yaml: memory_mb is missing"
    )
    assert refused(GOOD + "gpus: 1\n").startswith(
        "deploy.yaml: gpus is not a field of a deployment"
    )


@pytest.mark.parametrize(
    ("quota", "message"),
    [
        (
            Quota(cpus=0.75, memory_mb=8192),
            "2 replicas x 0.5 cpus = 1 cpus, above the quota of 0.75",
        ),
        (
            Quota(cpus=2, memory_mb=1000),
            "2 replicas x 512 MB = 1024 MB, above the quota of 1000 MB",
        ),
    ],
)
def test_totals_over_the_quota_are_refused(quota: Quota, message: str) -> None:
    assert refused(GOOD, quota) == f"deploy.yaml: {message}"


def test_totals_exactly_at_the_quota_pass() -> None:
    deploy = parse("model: models/m.bin\nreplicas: 4\ncpus: 0.5\nmemory_mb: 2048\n")
    assert (deploy.total_cpus, deploy.total_memory_mb) == (QUOTA.cpus, QUOTA.memory_mb)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ("{PORT: '9000'}", "PORT is set by the runner"),
        ("{MODEL_PATH: /etc/passwd}", "MODEL_PATH is set by the runner"),
        ("{workers: '2'}", "'workers' is not a name"),
        ("{A-B: '2'}", "'A-B' is not a name"),
        ("{X: '" + "y" * 257 + "'}", "X is longer than 256 characters"),
        (
            "{" + ", ".join(f"V{i}: x" for i in range(17)) + "}",
            "17 variables, more than the maximum of 16",
        ),
    ],
)
def test_environment_names_values_and_count_are_bounded(env: str, problem: str) -> None:
    assert refused(GOOD + f"env: {env}\n").startswith(f"deploy.yaml: env: {problem}")


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("/workspace/models/a.joblib", "must be a path relative to /workspace"),
        ("models/../secrets.txt", "without '..'"),
        ("../models/a.joblib", "without '..'"),
        ("data/a.joblib", "must be a file directly in models/"),
        ("models/sub/a.joblib", "must be a file directly in models/"),
        ("models", "must be a file directly in models/"),
    ],
)
def test_a_model_outside_the_models_folder_is_refused(model: str, problem: str) -> None:
    text = GOOD.replace("models/medium.joblib", model)
    message = refused(text)
    assert message.startswith(f"deploy.yaml: model: {model!r}") and problem in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("model: [unclosed\n", "deploy.yaml: not valid YAML"),
        ("- a\n- b\n", "deploy.yaml: must be a mapping of fields, not a list"),
        ("", "deploy.yaml: must be a mapping of fields, not nothing"),
        ("a: &x [1]\n" + "".join(f"b{i}: *x\n" for i in range(70)), "deploy.yaml: not valid YAML"),
    ],
)
def test_a_file_that_is_not_a_yaml_mapping_is_refused(text: str, problem: str) -> None:
    assert refused(text).startswith(problem)


def test_monthly_cost_is_reserved_cpu_and_memory_hours_to_the_cent() -> None:
    pricing = Pricing(currency="USD", vcpu_hour=0.04, gib_hour=0.005)
    # 2 x (0.5 x 0.04 + 0.5 GiB x 0.005) x 730 = 2 x 0.0225 x 730 = 32.85
    assert monthly_cost(parse(GOOD), pricing) == 32.85
    big = parse("model: models/m.bin\nreplicas: 4\ncpus: 0.5\nmemory_mb: 2048\n")
    # 4 x (0.02 + 2 x 0.005) x 730 = 87.6
    assert monthly_cost(big, pricing) == 87.6
    odd = Pricing(currency="EUR", vcpu_hour=0.0333, gib_hour=0.0041)
    # 1 x (0.25 x 0.0333 + 0.125 x 0.0041) x 730 = 6.4514... -> 6.45
    small = parse("model: models/m.bin\nreplicas: 1\ncpus: 0.25\nmemory_mb: 128\n")
    assert monthly_cost(small, odd) == 6.45


def test_prices_must_be_positive() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        Pricing(currency="USD", vcpu_hour=0, gib_hour=0.005)
