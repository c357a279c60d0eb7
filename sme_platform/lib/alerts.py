"""Alerts: a failed run or a failed check, told to the log and, when configured, to a
webhook (Slack, Teams, a pager's HTTP endpoint: anything that takes a JSON POST).

The webhook URL is a secret (it usually carries a token), so it comes only from an environment
variable named in `automation.yaml` and never appears in a log line, an error or metadata:
what is logged names the variable, not its value. Delivery retries with a growing pause on
connection errors and 5xx answers; a 4xx answer is not retried (the request is wrong)."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

ALERT_VERSION = 1


@dataclass(frozen=True)
class Alert:
    kind: str  # run_failed | check_failed
    run_id: str
    job: str
    summary: str  # one line a person reads first
    link: str  # the run in the UI
    asset: str | None = None
    check: str | None = None
    description: str | None = None

    def payload(self) -> dict:
        # `text` is what Slack and Teams incoming webhooks show; the rest is for machines.
        return {"text": f"{self.summary} ({self.link})", "version": ALERT_VERSION, **asdict(self)}


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    status: int | None
    error: str | None


def run_link(ui_url: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def send(
    alert: Alert,
    webhook_url: str | None,
    log: logging.Logger | logging.LoggerAdapter,
    *,
    variable: str = "the webhook variable",
    attempts: int = 3,
    first_pause: float = 1.0,
    timeout: float = 10.0,
) -> Delivery:
    """Log the alert; POST it to `webhook_url` if there is one (retried)."""
    log.warning(f"ALERT {alert.kind}: {alert.summary} ({alert.link})")
    if not webhook_url:
        return Delivery(False, 0, None, f"no webhook: {variable} is not set")
    body = json.dumps(alert.payload()).encode("utf-8")
    status, error = None, None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
            log.info(f"alert sent to the webhook in {variable} (HTTP {status}, try {attempt})")
            return Delivery(True, attempt, status, None)
        except urllib.error.HTTPError as failure:
            status, error = failure.code, f"HTTP {failure.code}"
            if failure.code < 500:
                break  # the endpoint refuses this request: sending it again will not help
        except (urllib.error.URLError, TimeoutError, OSError) as failure:
            # The reason only: a URLError's text can repeat the URL, and with it the token.
            reason = getattr(failure, "reason", failure)
            error = f"{type(reason).__name__}"
        if attempt < attempts:
            time.sleep(first_pause * 2 ** (attempt - 1))
    log.error(f"alert not delivered to the webhook in {variable} after {attempt} tries: {error}")
    return Delivery(False, attempt, status, error)
