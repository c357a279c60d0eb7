"""Alerts to the log and to a webhook (a local HTTP server here): the JSON body, retries on
5xx and connection errors, none on 4xx, and the URL (a secret) never in a log line."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from sme_platform.lib.alerts import Alert, run_link, send
from sme_platform.lib.automation import AutomationConfigError, load_automation_config

SECRET = "T0KEN-s3cr3t"
ALERT = Alert(
    kind="check_failed",
    run_id="1a2b3c",
    job="materialize_all",
    summary="check ml/demand_forecast:forecast_complete failed in run 1a2b3c",
    link=run_link("http://127.0.0.1:3000/", "1a2b3c"),
    asset="ml/demand_forecast",
    check="forecast_complete",
    description="12 series without forecast",
)


class Hook:
    """A webhook that answers the given statuses in turn (then 200) and keeps what it got."""

    def __init__(self, statuses=()):
        self.statuses, self.received = list(statuses), []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((self.path, json.loads(body)))
                self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger="alerts-test")
    return logging.getLogger("alerts-test")


def test_the_alert_is_posted_as_json_and_logged_without_the_url(log, caplog):
    hook = Hook()
    try:
        sent = send(ALERT, hook.url, log, variable="SME_ALERT_WEBHOOK_URL")
    finally:
        hook.close()
    assert (sent.delivered, sent.attempts, sent.status) == (True, 1, 200)
    ((path, body),) = hook.received
    assert path == f"/hooks/{SECRET}"
    assert body["run_id"] == "1a2b3c" and body["asset"] == "ml/demand_forecast"
    assert body["check"] == "forecast_complete" and body["kind"] == "check_failed"
    assert body["link"] == "http://127.0.0.1:3000/runs/1a2b3c"
    assert body["text"].startswith("check ml/demand_forecast:forecast_complete failed")
    assert "ALERT check_failed" in caplog.text
    assert "SME_ALERT_WEBHOOK_URL" in caplog.text and SECRET not in caplog.text


def test_server_errors_are_retried_client_errors_are_not(log, caplog):
    hook = Hook(statuses=[503, 500])
    try:
        sent = send(ALERT, hook.url, log, first_pause=0.01)
    finally:
        hook.close()
    assert (sent.delivered, sent.attempts) == (True, 3)
    assert len(hook.received) == 3  # the same body each time
    assert hook.received[0] == hook.received[2]
    hook = Hook(statuses=[404])
    try:
        refused = send(ALERT, hook.url, log, first_pause=0.01)
    finally:
        hook.close()
    assert (refused.delivered, refused.attempts, refused.error) == (False, 1, "HTTP 404")
    assert SECRET not in caplog.text


def test_an_unreachable_webhook_is_tried_again_and_reported_without_its_url(log, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    sent = send(ALERT, f"http://127.0.0.1:{port}/hooks/{SECRET}", log, first_pause=0.01)
    assert (sent.delivered, sent.attempts) == (False, 3)
    assert sent.error == "ConnectionRefusedError"
    assert "not delivered" in caplog.text and SECRET not in caplog.text


def test_without_a_webhook_the_alert_goes_to_the_log_only(log, caplog):
    sent = send(ALERT, None, log, variable="SME_ALERT_WEBHOOK_URL")
    assert not sent.delivered and sent.error == "no webhook: SME_ALERT_WEBHOOK_URL is not set"
    assert "ALERT check_failed" in caplog.text


def test_automation_settings_are_checked_with_the_file_and_key(tmp_path):
    assert load_automation_config(tmp_path).schedule.cron == "0 2 * * *"
    (tmp_path / "automation.yaml").write_text(
        "schedule:\n  cron: '30 3 * * 1-5'\n  timezone: Europe/Berlin\n", encoding="utf-8"
    )
    config = load_automation_config(tmp_path)
    assert (config.schedule.cron, config.schedule.timezone) == ("30 3 * * 1-5", "Europe/Berlin")
    for text, problem in [
        ("schedule:\n  cron: '30 3 * *'\n", "schedule.cron: Value error, '30 3 * *' is not a"),
        ("schedule:\n  timezone: Mars/Olympus\n", "'Mars/Olympus' is not a known time zone"),
        ("alerts:\n  webhook: https://x\n", "alerts.webhook: Extra inputs are not permitted"),
        (
            "freshness:\n  warn_after_hours: 40\n  fail_after_hours: 30\n",
            "warn_after_hours (40) is after fail_after_hours (30)",
        ),
    ]:
        (tmp_path / "automation.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(AutomationConfigError, match=str(tmp_path / "automation.yaml")) as error:
            load_automation_config(tmp_path)
        assert problem in str(error.value)


def test_sme_platform_check_reports_a_broken_automation_file(tmp_path):
    from sme_platform.lib.config.check import check_configuration
    from sme_platform_tests.conftest import REPO_ROOT

    (tmp_path / "sources.yaml").write_text(
        (REPO_ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "automation.yaml").write_text("schedule:\n  cron: every night\n", "utf-8")
    problems = check_configuration(tmp_path, REPO_ROOT / "dbt_like_sql").problems
    assert problems == (
        f"{tmp_path / 'automation.yaml'}: schedule.cron: Value error, 'every night' is not a "
        "cron expression of 5 fields",
    )
