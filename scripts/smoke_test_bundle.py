"""Install what scripts/build_bundle.py built and prove the installed app works.

    .venv/bin/python scripts/smoke_test_bundle.py [--dist dist] [--screenshot FILE.png]
                                                  [--measure-startup N]

1. unpacks the .deb into a scratch root with ``dpkg-deb -x`` and checks the package: the
   launcher in /usr/bin, the desktop entry (validated when desktop-file-validate exists), the
   icons, the declared dependencies;
2. runs the installed binary's ``self-test`` offscreen, with no network (a fresh network
   namespace when ``unshare`` allows it), a fresh HOME and no models of the user's: it must
   chat with the starter model the package carries;
3. runs it again under Xvfb on Qt's xcb platform, saving a screenshot, and checks the picture
   is a drawn window rather than a blank one;
4. unpacks the portable .tar.gz, puts ``portable.txt`` beside the executable, runs the
   self-test, and checks every folder went beside it and none into HOME.

Prints the self-test's JSON line from the installed .deb; exits non-zero on any failure.
With ``--measure-startup N`` it also times the installed app against a run from source.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "autoglm-desktop"
INSTALL_DIR = Path("opt") / APP_ID
SELF_TEST_TIMEOUT_S = 300
XVFB_SCREEN = "1280x800x24"
STARTER_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The Debian packages any desktop has; the .deb must declare at least these.
EXPECTED_DEPENDS = ("libc6", "libxcb1", "libgl1", "libfontconfig1", "libxkbcommon0")


class SmokeTestFailed(Exception):
    """The installed app does not work; the message says how."""


@dataclass(frozen=True)
class SelfTestRun:
    result: dict[str, object]
    seconds: float
    output: str


# --- environment -------------------------------------------------------------------------


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """What a user's session gives the app: no virtualenv, no project paths, a fresh HOME."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home),
    }
    env.update(extra)
    return env


def network_isolation() -> list[str]:
    """A command prefix that cuts the network off, or nothing where that is not allowed."""
    unshare = shutil.which("unshare")
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if unshare and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def run_self_test(
    executable: Path,
    *,
    env: dict[str, str],
    wrapper: list[str],
    screenshot: Path | None = None,
    model: Path | None = None,
) -> SelfTestRun:
    command = [*wrapper, str(executable), "self-test", "--timeout", str(SELF_TEST_TIMEOUT_S - 20)]
    if model is not None:
        command += ["--model", str(model)]
    if screenshot is not None:
        command += ["--screenshot", str(screenshot)]
    started = time.monotonic()
    try:
        completed = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=SELF_TEST_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise SmokeTestFailed(f"self-test did not finish in {SELF_TEST_TIMEOUT_S} s") from error
    seconds = time.monotonic() - started
    output = completed.stdout + completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SmokeTestFailed(
            f"self-test printed no JSON (exit code {completed.returncode}):\n{output[-3000:]}"
        )
    result = json.loads(lines[-1])
    if completed.returncode != 0 or not result.get("ok"):
        raise SmokeTestFailed(
            f"self-test failed (exit code {completed.returncode}): {lines[-1]}\n{output[-3000:]}"
        )
    return SelfTestRun(result=result, seconds=seconds, output=output)


# --- the package -------------------------------------------------------------------------


def find_artifact(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern), key=lambda path: path.stat().st_mtime)
    if not found:
        raise SmokeTestFailed(f"no {pattern} in {dist}; run scripts/build_bundle.py first")
    return found[-1]


def control_fields(deb: Path) -> dict[str, str]:
    text = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith(" ") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def check_package(deb: Path, root: Path) -> Path:
    """Unpack ``deb`` into ``root``, check its contents; returns the installed executable."""
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    fields = control_fields(deb)
    depends = fields.get("Depends", "")
    missing = [name for name in EXPECTED_DEPENDS if name not in depends]
    if missing:
        raise SmokeTestFailed(f"the .deb does not declare {', '.join(missing)}: {depends}")
    executable = root / INSTALL_DIR / APP_ID
    launcher = root / "usr" / "bin" / APP_ID
    if not launcher.is_symlink() or os.readlink(launcher) != f"/{INSTALL_DIR}/{APP_ID}":
        raise SmokeTestFailed(f"/usr/bin/{APP_ID} is not a link to /{INSTALL_DIR}/{APP_ID}")
    if not os.access(executable, os.X_OK):
        raise SmokeTestFailed(f"/{INSTALL_DIR}/{APP_ID} is missing or not executable")
    desktop = root / "usr/share/applications" / f"{APP_ID}.desktop"
    for required in (
        desktop,
        root / "usr/share/icons/hicolor/256x256/apps" / f"{APP_ID}.png",
        root / "usr/share/icons/hicolor/scalable/apps" / f"{APP_ID}.svg",
        root / "usr/share/mime/packages" / f"{APP_ID}.xml",
        root / INSTALL_DIR / "_internal/resources/models" / STARTER_MODEL,
        root / INSTALL_DIR / "_internal/resources/models/SmolLM2-135M-Instruct.LICENSE.txt",
    ):
        if not required.is_file():
            raise SmokeTestFailed(f"the .deb lacks /{required.relative_to(root)}")
    validator = shutil.which("desktop-file-validate")
    if validator:
        check = subprocess.run([validator, str(desktop)], capture_output=True, text=True)
        if check.returncode != 0:
            raise SmokeTestFailed(f"invalid desktop entry: {check.stdout}{check.stderr}")
    print(f"    package ok: Depends: {depends}")
    return executable


# --- the screenshot ----------------------------------------------------------------------


def check_screenshot(path: Path) -> str:
    """Fail unless ``path`` shows a drawn window: many colours, not one flat background."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    if image.isNull():
        raise SmokeTestFailed(f"no readable screenshot at {path}")
    if image.width() < 400 or image.height() < 300:
        raise SmokeTestFailed(f"the window is only {image.width()}x{image.height()}")
    counts: dict[int, int] = {}
    step = 2
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            rgb = image.pixel(x, y) & 0xFFFFFF
            counts[rgb] = counts.get(rgb, 0) + 1
    total = sum(counts.values())
    background_share = max(counts.values()) / total
    summary = (
        f"{image.width()}x{image.height()}, {len(counts)} colours, "
        f"{100 * (1 - background_share):.1f}% of pixels differ from the background"
    )
    if len(counts) < 16 or background_share > 0.98:
        raise SmokeTestFailed(f"the screenshot looks blank: {summary}")
    return summary


# --- the runs ----------------------------------------------------------------------------


def smoke_test_deb(deb: Path, scratch: Path, screenshot: Path) -> dict[str, object]:
    print(f"==> .deb: {deb.name}")
    root = scratch / "root"
    executable = check_package(deb, root)
    wrapper = network_isolation()
    print(f"    network: {'cut off (' + ' '.join(wrapper) + ')' if wrapper else 'left on'}")

    home = scratch / "home-offscreen"
    home.mkdir()
    env = clean_env(home, QT_QPA_PLATFORM="offscreen")
    offscreen = run_self_test(executable, env=env, wrapper=wrapper)
    print(f"    offscreen self-test ({offscreen.seconds:.1f} s): {json.dumps(offscreen.result)}")
    if not (home / ".local/share" / APP_ID / "models").is_dir():
        raise SmokeTestFailed("the installed app did not use the platform's data folder")

    if shutil.which("xvfb-run") is None:
        raise SmokeTestFailed("xvfb-run is missing; run scripts/install_system_deps.sh as root")
    home = scratch / "home-xvfb"
    home.mkdir()
    env = clean_env(home, QT_QPA_PLATFORM="xcb")  # xcb or fail: no silent offscreen fallback
    xvfb = ["xvfb-run", "-a", "-s", f"-screen 0 {XVFB_SCREEN}"]
    screenshot.unlink(missing_ok=True)
    on_x11 = run_self_test(executable, env=env, wrapper=[*wrapper, *xvfb], screenshot=screenshot)
    picture = check_screenshot(screenshot)
    print(f"    xcb self-test under Xvfb ({on_x11.seconds:.1f} s): {json.dumps(on_x11.result)}")
    print(f"    screenshot {screenshot}: {picture}")
    return offscreen.result


def smoke_test_portable(tarball: Path, scratch: Path) -> None:
    print(f"==> portable .tar.gz: {tarball.name}")
    target = scratch / "portable"
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="tar")
    (folder,) = list(target.iterdir())
    (folder / "portable.txt").write_text("")
    home = scratch / "home-portable"
    home.mkdir()
    env = clean_env(home, QT_QPA_PLATFORM="offscreen")
    run = run_self_test(folder / APP_ID, env=env, wrapper=network_isolation())
    if not (folder / "portable-data/data/models").is_dir():
        raise SmokeTestFailed("portable mode: no portable-data/ folder beside the executable")
    if (home / ".local/share" / APP_ID).exists() or (home / ".config" / APP_ID).exists():
        raise SmokeTestFailed("portable mode: the app still wrote into HOME")
    print(f"    portable self-test ({run.seconds:.1f} s): {json.dumps(run.result)}")


# --- startup timing ----------------------------------------------------------------------


def seconds_until_window(
    command: list[str], env: dict[str, str], *, log: Path, timeout_s: float = 60
) -> float:
    """Start ``command`` on the current X display; time until its main window is mapped."""
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - started < timeout_s:
            if window_is_mapped(env):
                return time.monotonic() - started
            time.sleep(0.01)
        said = log.read_text(errors="replace")[-2000:]
        raise SmokeTestFailed(f"no window within {timeout_s} s: {' '.join(command)}\n{said}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def window_is_mapped(env: dict[str, str]) -> bool:
    """Whether the app's main window is on the X display of ``env`` (mapped at full size)."""
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True
    ).stdout
    return any(
        '"AutoGLM Desktop": ("autoglm-desktop"' in line and "1x1+" not in line
        for line in tree.splitlines()
    )


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def start_xvfb(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private Xvfb; returns it and its display once it accepts connections."""
    read_end, write_end = os.pipe()
    with log.open("wb") as output:
        server = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", XVFB_SCREEN, "-nolisten", "tcp"],
            pass_fds=(write_end,),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        number = ready.readline().strip()  # written once the server is ready
    if not number:
        raise SmokeTestFailed(f"Xvfb did not start: {log.read_text(errors='replace')[-1000:]}")
    return server, f":{number}"


def measure_startup(executable: Path, scratch: Path, runs: int, *, model: Path) -> None:
    """Median start-up times, installed bundle vs from source, on an Xvfb display."""
    home = scratch / "home-timing"
    home.mkdir()
    subjects = {
        "installed .deb": [str(executable)],
        "from source": [str(ROOT / ".venv" / "bin" / APP_ID)],
    }
    server, display = start_xvfb(scratch / "xvfb.log")
    print(f"==> start-up, median of {runs} runs (xcb on Xvfb)")
    try:
        for label, command in subjects.items():
            env = clean_env(home, DISPLAY=display, AUTOGLM_HOME=str(home / label.replace(" ", "-")))
            version = [timed([*command, "--version"], env) for _ in range(runs)]
            log = scratch / "window-run.log"
            window = [seconds_until_window(command, env, log=log) for _ in range(runs)]
            self_test = [
                run_self_test(Path(command[0]), env=env, wrapper=[], model=model).seconds
                for _ in range(runs)
            ]
            print(
                f"    {label:15} --version {statistics.median(version):.2f} s | "
                f"window shown {statistics.median(window):.2f} s | "
                f"self-test {statistics.median(self_test):.2f} s"
                f"  (window: {[round(value, 2) for value in window]})"
            )
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument(
        "--screenshot", type=Path, default=ROOT / "build" / "bundle" / "installed-app-xvfb.png"
    )
    parser.add_argument("--measure-startup", type=int, default=0, metavar="RUNS")
    args = parser.parse_args(argv)
    args.screenshot = args.screenshot.resolve()
    args.screenshot.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="autoglm-smoke-") as folder:
        scratch = Path(folder)
        try:
            deb = find_artifact(args.dist, f"{APP_ID}*_*.deb")
            result = smoke_test_deb(deb, scratch, args.screenshot)
            smoke_test_portable(find_artifact(args.dist, f"{APP_ID}-*.tar.gz"), scratch)
            if args.measure_startup:
                installed = scratch / "root" / INSTALL_DIR
                measure_startup(
                    installed / APP_ID,
                    scratch,
                    args.measure_startup,
                    model=installed / "_internal/resources/models" / STARTER_MODEL,
                )
        except (SmokeTestFailed, subprocess.CalledProcessError) as failure:
            print(f"\nBUNDLE SMOKE TEST FAILED: {failure}", file=sys.stderr)
            return 1
    print(f"\nsmoke test passed in {time.monotonic() - started:.0f} s")
    print(json.dumps(result))  # the installed .deb's self-test line, last for CI logs
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
