"""The container's dependency set, without Docker: requirements/runtime.txt alone in a fresh venv
(what deploy/Dockerfile's runtime stage holds), plus dora installed from a copy of its sources.
dora's commands must run there: nothing in the runtime may need the local stack, tests or lint
tools. Uses pip's cache; marked ``image`` (part of `make test`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SOURCES = ("dora", "setup.cfg", "pyproject.toml", "README.md")


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=240,
                          check=False, env=env, cwd=cwd)


def _checked(*args: str | Path) -> None:
    result = _run(*args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runtime")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:  # a copy, as the image's build stage gets it: no build files in the repo
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    venv = root / "venv"
    _checked(sys.executable, "-m", "venv", venv)
    pip = (venv / "bin" / "python", "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check")
    _checked(*pip, "-r", REPO / "requirements" / "runtime.txt")
    _checked(*pip, "--no-deps", source)
    _checked(venv / "bin" / "python", "-m", "pip", "check")
    return venv


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DORA_", "KALSHI_", "AWS_", "PYTHONPATH", "VIRTUAL_ENV"))}
    return {**clean, **extra}


@pytest.mark.image
@pytest.mark.timeout(600)
def test_dora_runs_from_the_runtime_dependencies_alone(runtime_venv: Path, tmp_path: Path) -> None:
    python, dora = runtime_venv / "bin" / "python", runtime_venv / "bin" / "dora"
    for module in ("moto", "flask", "pytest", "ruff", "mypy", "cfnlint", "hypothesis"):
        assert _run(python, "-c", f"import {module}").returncode != 0, f"{module} is installed"
    helped = _run(dora, "--help", env=_env(), cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "health" in helped.stdout and "run" in helped.stdout
    run_help = _run(dora, "run", "--help", env=_env(), cwd=tmp_path)
    assert run_help.returncode == 0, run_help.stderr
    assert "--per-market" in run_help.stdout


@pytest.mark.image
@pytest.mark.timeout(600)
def test_health_and_the_missing_local_stack_from_the_runtime_venv(runtime_venv: Path,
                                                                  tmp_path: Path) -> None:
    dora = runtime_venv / "bin" / "dora"
    beat = tmp_path / "heartbeat.json"
    beat.write_text(f'{{"ts_ms": {time.time_ns() // 1_000_000}, "cycle": 3, "run_id": "r", '
                    '"halted": false}')
    healthy = _run(dora, "health", env=_env(DORA_HEARTBEAT_FILE=str(beat)), cwd=tmp_path)
    assert healthy.returncode == 0, healthy.stderr
    assert "healthy" in healthy.stdout
    as_module = _run(runtime_venv / "bin" / "python", "-m", "dora.cli.health",
                     env=_env(DORA_HEARTBEAT_FILE=str(beat)), cwd=tmp_path)  # the image's check
    assert as_module.returncode == 0 and "healthy" in as_module.stdout
    missing = _run(dora, "health", env=_env(), cwd=tmp_path)
    assert missing.returncode == 1
    embedded = _run(dora, "run", "--loops", "1", env=_env(), cwd=tmp_path)
    assert embedded.returncode == 1, embedded.stdout[-2000:] + embedded.stderr[-2000:]
    assert "pip install 'dora[local]'" in embedded.stderr
    assert "Traceback" not in embedded.stderr
