"""npm packages for the tests, installed once into a cache outside the repository.

`install(package_json)` runs `npm install` of the pinned versions in a package.json
into `~/.cache/wasmplug-test-npm/<key>` (the key is a hash of the pins and the
platform, so a new pin installs anew and an old install is reused), with a lock
so parallel runs install once and an install only becomes visible when complete.
Every subprocess is bounded in time; npm's registry being unreachable is a
`NpmFailed` saying so, never a hang. `bundle()` runs esbuild from that install
the way the JS PDK's examples bundle (CommonJS for es2020).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
from pathlib import Path

CACHE = Path(os.environ.get("WASMPLUG_TEST_NPM_CACHE", Path.home() / ".cache" / "wasmplug-test-npm"))
INSTALL_TIMEOUT = 300.0
BUNDLE_TIMEOUT = 120.0


class NpmUnavailable(Exception):
    """node or npm is not installed here (the tests skip, saying so)."""


class NpmFailed(Exception):
    """npm or esbuild failed: the registry unreachable, a package missing, a bundle error."""


def _tail(text: str, lines: int = 15) -> str:
    """npm's first error lines (its code and reason come first), else the last lines of the output."""
    said = text.strip().splitlines()
    errors = [line for line in said if line.startswith("npm error")]
    return "\n".join(errors[:lines] if errors else said[-lines:])


def _run(command: list[str], *, timeout: float, what: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                              env=env, cwd=cwd)
    except subprocess.TimeoutExpired as error:
        said = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else error.stderr
        raise NpmFailed(f"{what} did not finish in {timeout:.0f} s (is npm's registry reachable?): "
                        f"{' '.join(command)}\n{_tail(said or '')}") from None
    if done.returncode != 0:
        raise NpmFailed(f"{what} failed (exit {done.returncode}): {' '.join(command)}\n"
                        f"{_tail(done.stderr or done.stdout)}")


def tools() -> tuple[str, str]:
    """The paths of node and npm, or NpmUnavailable."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise NpmUnavailable("node and npm are needed to install the npm packages of the PDK's npm "
                             "examples (apt-get install nodejs npm)")
    return node, npm


def install(package_json: Path, *, cache: Path = CACHE, registry: str | None = None,
            timeout: float = INSTALL_TIMEOUT, retries: int = 2) -> Path:
    """The node_modules of package_json's pinned dependencies, installed on first use."""
    _, npm = tools()
    pins = package_json.read_bytes()
    key = hashlib.sha256(pins + f"{platform.system()}-{platform.machine()}".encode()).hexdigest()[:20]
    target = cache / key
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "node_modules" / ".bin" / "esbuild").exists():
            return target / "node_modules"
        staging = cache / f"{key}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (staging / "package.json").write_bytes(pins)
        command = [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund",
                   "--ignore-scripts", "--no-update-notifier", f"--fetch-retries={retries}",
                   "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000", "--fetch-timeout=60000"]
        if registry is not None:
            command.append(f"--registry={registry}")
        try:
            _run(command, timeout=timeout, what="npm install of the pinned packages", cwd=staging)
        except NpmFailed:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target / "node_modules"


def bundle(node_modules: Path, entry: Path, out: Path, *options: str) -> Path:
    """`esbuild ENTRY --bundle --format=cjs --target=es2020` (the PDK examples' esbuild.js) to out."""
    node, _ = tools()
    esbuild = node_modules / "esbuild" / "bin" / "esbuild"
    env = {**os.environ, "NODE_PATH": str(node_modules)}  # the sources live outside the install
    _run([node, str(esbuild), str(entry), "--bundle", "--format=cjs", "--target=es2020",
          "--log-level=warning", f"--outfile={out}", *options],
         timeout=BUNDLE_TIMEOUT, what=f"esbuild of {entry.name}", env=env)
    return out
