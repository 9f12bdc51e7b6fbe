"""The example plugin package (examples/kontor-example-plugin) installed like a third-party
plugin: Kontor finds it through its entry point, and its own tests pass with the
fixtures Kontor ships through the pytest11 entry point."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "kontor-example-plugin"
BIN = Path(sys.executable).parent
KONTOR = BIN / "kontor"
HOOKS = (
    "contact_event, describe_provider, identify_account, pull_activities, pull_contacts, "
    "verify_email"
)


def _run(args: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: int = 120):
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    """A folder holding the installed example package (put it on PYTHONPATH).

    pip builds a wheel, which with this venv's setuptools needs the `wheel` package; when
    that is missing (offline, no build isolation) the same metadata and files come from
    setuptools' own egg_info and build_py steps, which importlib.metadata reads alike.
    """
    folder = tmp_path_factory.mktemp("example-site")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip_install = ["pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target"]
    pip = _run([sys.executable, "-m", *pip_install, folder, EXAMPLE], env)
    if pip.returncode != 0:
        setup = ["-c", "from setuptools import setup; setup()", "-q"]
        steps = _run(
            [sys.executable, *setup, "egg_info", "-e", folder, "build_py", "-d", folder],
            env,
            cwd=EXAMPLE,
        )
        assert steps.returncode == 0, pip.stderr + steps.stderr
    assert (folder / "kontor_example" / "__init__.py").is_file()
    return folder


def environment(target: Path, instance: Path, **extra: str) -> dict[str, str]:
    """The environment of an installation with the example package, on a new instance."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "KONTOR_PLUGINS", "PYTEST_ADDOPTS")
    }
    env.update(
        PYTHONPATH=str(target),
        KONTOR_INSTANCE=str(instance),
        KONTOR_JOBS_QUEUE="manual",
        PYTHONDONTWRITEBYTECODE="1",
        **extra,
    )
    return env


def test_kontor_plugins_list_finds_it_through_its_entry_point(target, tmp_path):
    env = environment(target, tmp_path / "instance")
    upgrade = _run([KONTOR, "db", "upgrade"], env)
    assert upgrade.returncode == 0, upgrade.stderr

    # both listings at once (each is a Kontor start-up): all plugins, and KONTOR_PLUGINS=gmail
    listings = [
        subprocess.Popen(
            [str(KONTOR), "plugins", "list"],
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for e in (env, {**env, "KONTOR_PLUGINS": "gmail"})
    ]
    (everything, err), (only, only_err) = (p.communicate(timeout=120) for p in listings)
    assert [p.returncode for p in listings] == [0, 0], err + only_err
    lines = {line.split()[0]: line for line in everything.splitlines()}
    assert lines["example"] == f"example 0.2.0  [{HOOKS}]  not connected"
    assert "gmail" in lines  # the built-ins come through the same entry-point group
    assert [line.split()[0] for line in only.splitlines()] == ["gmail"]


def test_its_own_tests_pass_with_the_shipped_fixtures(target, tmp_path):
    env = environment(target, tmp_path / "instance")
    result = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        env,
        cwd=EXAMPLE,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    summary = output.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s", summary), summary
    assert int(summary.split()[0]) >= 7
