"""How AuthPulse launches headless Chromium (screenshots, browser tests): one place, no heavy imports."""

from __future__ import annotations

DEFAULT_CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package
# Headless, and nothing that reaches for the network: the pages opened are self-contained.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
