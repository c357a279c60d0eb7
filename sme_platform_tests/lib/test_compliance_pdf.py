"""The PDF printout: written by a browser when there is one, and honestly absent when not."""

from __future__ import annotations

from sme_platform.lib.compliance.pdf import print_pdf


def test_without_a_browser_there_is_no_pdf_and_no_error(tmp_path):
    page = tmp_path / "compliance_2026-11-01_2026-11-30.html"
    page.write_text("<html><body>x</body></html>", encoding="utf-8")
    assert print_pdf(page, browser=str(tmp_path / "no-such-browser")) is None


def test_a_browser_that_fails_leaves_no_pdf(tmp_path):
    page = tmp_path / "report.html"
    page.write_text("<html><body>x</body></html>", encoding="utf-8")
    failing = tmp_path / "fake-chromium"
    failing.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    failing.chmod(0o755)
    assert print_pdf(page, browser=str(failing)) is None
    assert not page.with_suffix(".pdf").exists()
