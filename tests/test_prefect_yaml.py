"""prefect.yaml loads: every entrypoint imports, its parameters validate, its pull steps import."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPEC = yaml.safe_load((ROOT / "prefect.yaml").read_text())
DEPLOYMENTS = SPEC["deployments"]
EXPECTED = {"sync-subscriptions", "refresh-metadata", "retry-failed", "compact-catalog"}


def test_the_four_deployments_in_one_process_pool() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel

    from ytarchive.names import DEPLOYMENTS as NAMED
    from ytarchive.names import POOL_NAME

    PrefectYamlModel.model_validate(SPEC)  # the shape `prefect deploy` accepts
    assert {d["name"] for d in DEPLOYMENTS} == EXPECTED == set(NAMED)
    assert {d["work_pool"]["name"] for d in DEPLOYMENTS} == {POOL_NAME}


@pytest.mark.parametrize("spec", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_loads_and_parameters_validate(spec: dict) -> None:
    from prefect.flows import load_flow_from_entrypoint

    path = spec["entrypoint"].split(":")[0]
    if not (ROOT / path).exists():
        pytest.fail(f"{spec['name']}: entrypoint file {path} does not exist")
    flow = load_flow_from_entrypoint(str(ROOT / spec["entrypoint"]))
    validated = flow.validate_parameters(spec.get("parameters") or {})
    assert isinstance(validated, dict)
    names = set(flow.parameters.properties)
    assert not {n for n in names if "key" in n.lower() or "secret" in n.lower()}, names


# What the README says each deployment runs on (sync-subscriptions: none, each subscription
# carries its own); tests/e2e proves the server schedules them once `ytarchive serve` applies them.
SCHEDULES = {
    "sync-subscriptions": [],
    "refresh-metadata": [("0 4 * * 0", "UTC")],  # weekly, Sunday 04:00
    "retry-failed": [("30 5 * * *", "UTC")],  # daily, 05:30
    "compact-catalog": [("15 * * * *", "UTC")],  # hourly, at :15
}


@pytest.mark.parametrize("spec", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_schedules_are_the_documented_valid_crons(spec: dict) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    found = [(s["cron"], s.get("timezone")) for s in spec.get("schedules") or []]
    assert found == SCHEDULES[spec["name"]]
    for cron, timezone in found:
        assert CronSchedule(cron=cron, timezone=timezone).cron == cron


def test_sync_deployment_has_no_schedule_of_its_own() -> None:
    """Subscriptions carry the schedules (sub-* deployments); this one is "sync all now"."""
    sync = next(d for d in DEPLOYMENTS if d["name"] == "sync-subscriptions")
    assert sync["schedules"] == []


def test_pull_steps_import_and_match_subscription_deployments() -> None:
    from prefect.utilities.importtools import import_object

    from deployments.steps import PULL_STEPS

    assert SPEC["pull"] == PULL_STEPS
    for step in SPEC["pull"]:
        (name,) = step
        assert callable(import_object(name))


def test_pull_step_moves_into_the_checkout(tmp_path, monkeypatch) -> None:
    from deployments.steps import set_checkout_directory

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YTARCHIVE_CHECKOUT", raising=False)
    assert set_checkout_directory() == {"directory": str(ROOT)}
    assert Path.cwd() == ROOT
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("YTARCHIVE_CHECKOUT", str(other))
    assert set_checkout_directory() == {"directory": str(other)}


def test_no_secrets_in_the_file() -> None:
    text = (ROOT / "prefect.yaml").read_text().lower()
    assert "aiza" not in text  # the prefix of every Google API key
    for spec in DEPLOYMENTS:
        assert not any("key" in k.lower() for k in (spec.get("parameters") or {}))
