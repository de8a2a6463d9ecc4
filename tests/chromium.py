"""Debian's Chromium, as every browser test launches it (never a downloaded browser)."""

from pathlib import Path

CHROMIUM = Path("/usr/lib/chromium/chromium")  # Debian's binary itself (the wrapper script adds noise)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
