"""The Grafana dashboard, the Prometheus rules and the compose file parse, and name only real metrics."""

import json
import re
from pathlib import Path

import yaml

from service.metrics import every_metric_name

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
METRIC = re.compile(r"\bhj1321_[a-z0-9_]+")


def named_metrics(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in METRIC.findall(expression)}


def test_dashboard_is_grafana_json_naming_exported_metrics():
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "hj1321.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["panels"]
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    # Importable anywhere: the data source is a variable (and an import input), every series is narrowed
    # to the chosen job and instance.
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and {"job", "instance"} <= set(variables)
    assert [i["pluginId"] for i in dashboard["__inputs"]] == ["prometheus"]
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])
    for expression in expressions:
        for selector in re.findall(r"\bhj1321_[a-z0-9_]+(\{[^}]*\})?", expression):
            assert selector.startswith('{job=~"$job", instance=~"$instance"'), expression
    units = {panel["title"]: panel["fieldConfig"]["defaults"].get("unit") for panel in dashboard["panels"]}
    assert units["Records taken in per second, by kind"] == "cps"
    assert units["HTTP answers per second, by status"] == "reqps"
    used = named_metrics(expressions)
    assert used - every_metric_name() == set()
    # What the issue asks the dashboard to show.
    for wanted in ("hj1321_records_total", "hj1321_record_errors_total", "hj1321_http_request_duration_seconds_bucket",
                   "hj1321_enterprise_last_seen_timestamp_seconds", "hj1321_enterprise_clock_skew_seconds"):
        assert wanted in used
    assert any('outcome="late"' in e for e in expressions)


def test_alert_rules_are_valid_and_name_exported_metrics():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"HJ1321EnterpriseSilent", "HJ1321RejectionRatioHigh", "HJ1321ServerErrors",
            "HJ1321DatabaseDown"} <= set(alerts)
    for rule in alerts.values():
        assert rule["expr"] and rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and re.fullmatch(r"\d+[smh]", rule["for"])
    assert named_metrics([rule["expr"] for rule in alerts.values()]) - every_metric_name() == set()
    assert "1800" in alerts["HJ1321EnterpriseSilent"]["expr"]


def test_compose_wires_the_database_service_prometheus_and_grafana():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "migrate", "service", "prometheus", "grafana"} <= set(services)
    assert services["migrate"]["command"] == ["hj1321", "migrate"]
    assert services["service"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["service:8000"]
    for mount in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        assert (DEPLOY / mount.split(":")[0]).exists(), mount


def test_dockerfile_keeps_its_promises():
    text = (DEPLOY.parent / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    # Installed from the wheel it builds, as a bureau installs it, never from the source tree (-e).
    assert "pip wheel" in text and "pip install /dist/*.whl" in text and "-e" not in text.split()
    for folder in ("service", "schemas", "migrations"):
        assert f"COPY {folder} ./{folder}" in text
    assert "COPY setup.py" in text or "setup.py" in text.split("COPY pyproject.toml", 1)[1].split("\n", 1)[0]
    assert "\nUSER hj1321" in text and 'CMD ["hj1321", "serve"' in text
    assert "\nHEALTHCHECK " in text and "/healthz" in text.split("\nHEALTHCHECK ", 1)[1]
    # Photos live outside the database: in a volume, not in the container's throwaway layer.
    assert "HJ1321_PHOTO_STORE=file:///data/photos" in text and "\nVOLUME /data" in text
