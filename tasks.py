#!/usr/bin/env python3
"""One-command setup, launch and test for AutoGLM Desktop (standard library only).

    python3 tasks.py run [APP ARGS...]   install everything, then start the app
    python3 tasks.py test                install everything, then run every check and test

Installing means: a virtual environment in .venv, the Debian packages Qt needs (when root),
``pip install -e ".[dev]"`` (skipped while pyproject.toml is unchanged) and, for ``run``, the
starter model. After the first run everything works offline.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MIN_PYTHON = (3, 10)
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
INSTALL_STAMP = VENV / ".autoglm-install-stamp"
SYSTEM_DEPS_SCRIPT = ROOT / "scripts" / "install_system_deps.sh"
SYSTEM_DEPS_NEED_MANUAL_INSTALL = 3  # install_system_deps.sh: missing, but not installable here
PYTEST_NO_TESTS_COLLECTED = 5
IS_WINDOWS = os.name == "nt"


class StepFailed(Exception):
    """A step could not finish; the message tells the user what to do."""


@dataclass(frozen=True)
class Step:
    name: str
    action: Callable[[], str | None]  # returns a short note for the summary


@dataclass
class StepResult:
    name: str
    seconds: float
    ok: bool
    note: str = ""


# --- helpers -----------------------------------------------------------------------------


def venv_bin(name: str) -> Path:
    if IS_WINDOWS:
        return VENV / "Scripts" / f"{name}.exe"
    return VENV / "bin" / name


def venv_python() -> Path:
    return venv_bin("python")


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for commands run inside the virtual environment."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(venv_python().parent), env.get("PATH", "")])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PYTHONHOME", None)
    env.update(extra)
    return env


def run_command(command: Sequence[str | Path], *, env: dict[str, str] | None = None) -> int:
    """Run a command with its output going straight to the terminal; return its exit code."""
    printable = " ".join(str(part) for part in command)
    print(f"$ {printable}", flush=True)
    try:
        return subprocess.call(
            [str(part) for part in command], cwd=ROOT, env=env, stdin=subprocess.DEVNULL
        )
    except OSError as error:
        raise StepFailed(f"could not start {command[0]}: {error}") from error


def run_command_keep_last_line(
    command: Sequence[str | Path], *, env: dict[str, str]
) -> tuple[int, str]:
    """Like :func:`run_command`, but also return the last non-blank line it printed."""
    print(f"$ {' '.join(str(part) for part in command)}", flush=True)
    last_line = ""
    with subprocess.Popen(
        [str(part) for part in command],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                last_line = line.rstrip("\n")
    return process.returncode, last_line


def check_tool(*command: str) -> str | None:
    """Run a tool from the virtual environment with Qt set to headless; fail on non-zero."""
    code = run_command([venv_bin(command[0]), *command[1:]], env=headless_env())
    if code != 0:
        raise StepFailed(f"`{' '.join(command)}` exited with code {code}; see its output above")
    return None


def headless_env() -> dict[str, str]:
    return tool_env(QT_QPA_PLATFORM="offscreen")


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- setup steps -------------------------------------------------------------------------


def ensure_venv() -> str | None:
    if venv_python().exists():
        return "exists"
    if importlib.util.find_spec("ensurepip") is None:
        install_venv_module()
    code = run_command([sys.executable, "-m", "venv", VENV])
    if code != 0:
        raise StepFailed(
            f"creating {VENV} failed. On Debian/Ubuntu install the venv module "
            f"(apt-get install {venv_package()}), delete {VENV} and try again"
        )
    return "created"


def venv_package() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}-venv"


def install_venv_module() -> None:
    """Debian splits `python -m venv` into its own package; get it like the other packages."""
    if sys.platform.startswith("linux"):
        run_command(["bash", SYSTEM_DEPS_SCRIPT, venv_package()])
    if importlib.util.find_spec("ensurepip") is None:
        raise StepFailed(
            f"this Python ({sys.executable}) cannot create virtual environments. "
            f"On Debian/Ubuntu run: sudo apt-get install {venv_package()}"
        )


def ensure_system_packages() -> str | None:
    if not sys.platform.startswith("linux"):
        return "not needed on this system"
    code = run_command(["bash", SYSTEM_DEPS_SCRIPT])
    if code == SYSTEM_DEPS_NEED_MANUAL_INSTALL:
        return "MISSING: run the command printed above (continuing without them)"
    if code != 0:
        raise StepFailed(f"installing system packages failed (exit code {code})")
    return None


def ensure_project_installed() -> str | None:
    pyproject_hash = file_hash(ROOT / "pyproject.toml")
    if INSTALL_STAMP.is_file() and INSTALL_STAMP.read_text().strip() == pyproject_hash:
        return "up to date"
    print(
        "Installing the project and its tools. The first time, llama-cpp-python is compiled "
        "(about 10 minutes on 2 cores); pip caches the result for later installs.",
        flush=True,
    )
    # The wheel cache must stay on: it is what makes the llama.cpp build a one-time cost.
    env = tool_env(CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 1))
    env.pop("PIP_NO_CACHE_DIR", None)
    code = run_command([venv_python(), "-m", "pip", "install", "-e", ".[dev]"], env=env)
    if code != 0:
        raise StepFailed(
            f"pip install failed (exit code {code}). Check the internet connection and that a "
            "C/C++ compiler is installed (Debian/Ubuntu: apt-get install build-essential)"
        )
    INSTALL_STAMP.write_text(pyproject_hash + "\n")
    return "installed"


def ensure_starter_model() -> str | None:
    command: list[str | Path] = [venv_python(), "-m", "autoglm_desktop.core.models.starter_model"]
    code = run_command(command, env=tool_env())
    if code != 0:
        raise StepFailed("the starter model could not be put in place (see the error above)")
    return None


# --- test steps --------------------------------------------------------------------------


def run_core_tests_without_qt() -> str | None:
    command: list[str | Path] = [venv_python(), "tests/run_core_without_qt.py"]
    code, last_line = run_command_keep_last_line(command, env=headless_env())
    if code == PYTEST_NO_TESTS_COLLECTED:
        return "no core tests yet"  # the full pytest run below still has to run something
    if code != 0:
        raise StepFailed(f"core tests failed without Qt (exit code {code}): {last_line}")
    return last_line.strip("= ")


def run_all_tests() -> str | None:
    code, last_line = run_command_keep_last_line([venv_bin("pytest")], env=headless_env())
    if code == PYTEST_NO_TESTS_COLLECTED:
        raise StepFailed("pytest collected no tests at all")
    if code != 0:
        raise StepFailed(f"tests failed (exit code {code}): {last_line}")
    return last_line


def build_and_smoke_test_bundle() -> str | None:
    """The installed app, proven: build the bundle and .deb, install, self-test (Linux)."""
    if not sys.platform.startswith("linux"):
        return "skipped (the Linux bundle is built on Linux; other systems in the release CI)"
    build: list[str | Path] = [
        venv_python(),
        "scripts/build_bundle.py",
        "--deb-compression",
        "gzip",
    ]
    if run_command(build, env=tool_env()) != 0:
        raise StepFailed("building the bundle failed (see BUNDLE BUILD FAILED above)")
    smoke: list[str | Path] = [venv_python(), "scripts/smoke_test_bundle.py"]
    code, last_line = run_command_keep_last_line(smoke, env=tool_env())
    if code != 0:
        raise StepFailed(f"the installed bundle failed its smoke test (exit code {code})")
    return last_line


SETUP_STEPS = [
    Step("virtual environment", ensure_venv),
    Step("system packages", ensure_system_packages),
    Step("pip install", ensure_project_installed),
]
RUN_STEPS = [*SETUP_STEPS, Step("starter model", ensure_starter_model)]
TEST_STEPS = [
    *SETUP_STEPS,
    Step("ruff check", lambda: check_tool("ruff", "check", ".")),
    Step("ruff format", lambda: check_tool("ruff", "format", "--check", ".")),
    Step("mypy", lambda: check_tool("mypy")),
    Step("import contracts", lambda: check_tool("lint-imports", "--no-cache", "--no-logo")),
    Step("core tests without Qt", run_core_tests_without_qt),
    Step("all tests", run_all_tests),
    Step("bundle", build_and_smoke_test_bundle),
]


# --- running steps -----------------------------------------------------------------------


def run_steps(steps: Sequence[Step]) -> list[StepResult]:
    """Run steps in order, stopping at the first failure (the last result then has ok=False)."""
    results: list[StepResult] = []
    for number, step in enumerate(steps, start=1):
        print(f"\n==> [{number}/{len(steps)}] {step.name}", flush=True)
        started = time.monotonic()
        try:
            note = step.action() or ""
        except StepFailed as failure:
            results.append(StepResult(step.name, time.monotonic() - started, False, str(failure)))
            break
        results.append(StepResult(step.name, time.monotonic() - started, True, note))
    return results


def print_summary(results: Sequence[StepResult]) -> None:
    width = max(len(result.name) for result in results)
    print("\nSummary", flush=True)
    for result in results:
        status = "ok" if result.ok else "FAILED"
        note = f"  {result.note}" if result.note else ""
        print(f"  {status:6} {result.seconds:7.1f}s  {result.name:{width}}{note}".rstrip())
    print(f"  total  {sum(result.seconds for result in results):7.1f}s", flush=True)


def report_failure(results: Sequence[StepResult], task: str) -> int:
    failed = results[-1]
    print(f"\nFAILED at step '{failed.name}': {failed.note}.", file=sys.stderr)
    print(f"Fix that, then run `python3 tasks.py {task}` again.", file=sys.stderr, flush=True)
    return 1


def task_test() -> int:
    results = run_steps(TEST_STEPS)
    print_summary(results)
    if not results[-1].ok:
        return report_failure(results, "test")
    # pytest's closing line, last, where CI looks for it
    print(next(result.note for result in results if result.name == "all tests"))
    return 0


def task_run(app_args: Sequence[str]) -> int:
    results = run_steps(RUN_STEPS)
    print_summary(results)
    if not results[-1].ok:
        return report_failure(results, "run")
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        print("Note: no display found (DISPLAY and WAYLAND_DISPLAY are unset); starting anyway.")
    app = venv_bin("autoglm-desktop")
    print(f"\nStarting {app.name}...", flush=True)
    try:
        return subprocess.call([str(app), *app_args], cwd=ROOT, env=tool_env())
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        print(f"AutoGLM Desktop needs Python {'.'.join(map(str, MIN_PYTHON))} or newer.")
        return 1
    task, *rest = argv or ["--help"]
    if task == "run":
        return task_run(rest)
    if task == "test" and not rest:
        return task_test()
    print(__doc__)
    return 0 if task in {"-h", "--help", "help"} else 2


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        raise SystemExit(130) from None
