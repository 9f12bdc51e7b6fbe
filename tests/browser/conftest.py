"""Real-browser fixtures: the real Kontor server in a subprocess on a free port, with its
own instance folder (SQLite), and Debian's Chromium driven by Playwright (no download).

A failing test leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, need, port_open

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
ADMIN_EMAIL = "admin@example.com"


@dataclass
class LiveServer:
    url: str
    instance: Path
    email: str = ADMIN_EMAIL
    password: str = PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kontor(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    kontor = Path(sys.executable).with_name("kontor")
    result = subprocess.run(
        [str(kontor), *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kontor {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        need(False, "playwright is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def live_server(chromium_ready, tmp_path_factory) -> Iterator[LiveServer]:
    """`kontor db upgrade`, a first admin, a few contacts, then `kontor run` on a free port.

    Always SQLite in its own folder: the server never shares the suite's database.
    """
    instance = tmp_path_factory.mktemp("kontor-browser")
    env = {**os.environ, "KONTOR_INSTANCE": str(instance), "SECRET_KEY": "browser-test-key"}
    for name in ("DATABASE_URL", "REDIS_URL", "KONTOR_CONTACT_LIMIT"):
        env.pop(name, None)
    _kontor("db", "upgrade", env=env)
    _kontor("users", "create", ADMIN_EMAIL, "--role", "admin", env=env, stdin=PASSWORD + "\n")
    seed = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("seed_contacts.py"))],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert seed.returncode == 0, seed.stderr
    port = _free_port()
    log = (instance / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("kontor")), "run", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("kontor run did not start:\n" + (instance / "server.log").read_text())
            time.sleep(0.1)
        yield LiveServer(f"http://127.0.0.1:{port}", instance)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(chromium_ready, live_server, request):
    """A fresh Chromium page; console errors (CSP violations included) are collected."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.console_errors = []
        tab.on(
            "console",
            lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        tab.on("pageerror", lambda exc: tab.console_errors.append(str(exc)))
        try:
            yield tab
        finally:
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                shot = ARTIFACTS / f"{request.node.name}.png"
                tab.screenshot(path=str(shot), full_page=True)
                shutil.copy(live_server.instance / "server.log", ARTIFACTS / "server.log")
            context.close()
            browser.close()
