"""The compliance report as a PDF too, printed by a headless Chromium where the machine has one
(Debian's `chromium` package; nothing is downloaded): the HTML page is the report, the PDF its
printout for whoever files reports as PDFs."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
NO_BROWSER = "no Chromium on this machine (apt-get install chromium): the HTML page prints"


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def print_pdf(page: Path, browser: str | None = None) -> Path | None:
    """`page` printed to the same name with .pdf; None without a browser or if it failed."""
    browser = browser or find_browser()
    if browser is None:
        return None
    pdf = page.with_suffix(".pdf")
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="sme_platform_pdf_") as profile:
        try:
            _print(browser, page, pdf, profile)
        except (OSError, subprocess.TimeoutExpired):
            return None  # the HTML page is the report; the printout is a convenience
    return pdf if pdf.is_file() and pdf.stat().st_size > 0 else None


def _print(browser: str, page: Path, pdf: Path, profile: str) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            # The page is the platform's own, without scripts or links out; the sandbox
            # cannot start as root (a server's service user often is), so it is off.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=180,
        check=False,
    )
