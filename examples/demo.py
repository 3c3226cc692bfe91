"""Replay the seed plan on the bundled example: a suite that does not collect, made to collect, measured and ratcheted.

Run by ``nox -s demo``. It copies ``examples/service`` to a work directory, shows the broken state, runs
``testfloor init`` there (which runs ``testfloor doctor --fix`` and writes the first baseline), then the
project's own ``nox -s collect coverage baseline``, and prints a before/after summary. The summary is also
written as JSON, so that it can be checked against the files the run produced.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parent / "service"
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def run(command: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    print(f"$ {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where the example is copied (default: a new temporary directory)")
    parser.add_argument(
        "--testfloor",
        default=str(Path(__file__).resolve().parents[1]),
        help="how the example's sessions install testfloor (default: this source tree)",
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="testfloor-demo-"))
    project = workdir / "service"
    shutil.copytree(EXAMPLE, project)
    # The outer run's coverage and settings must not leak in; the demo runs on this Python only.
    environ = {name: value for name, value in os.environ.items() if not name.startswith(("COVERAGE_", "TESTFLOOR_"))}
    environ.update(TESTFLOOR_PYTHON=HERE, NOX_DOWNLOAD_PYTHON="never")

    print("1. The suite as it comes: pytest --collect-only", flush=True)
    before = run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:testfloor"], project, environ)
    last = [line for line in (before.stdout + before.stderr).splitlines() if line.strip()][-1:]
    print(f"   exit {before.returncode}: {last[0] if last else ''}")

    print("2. testfloor init (then doctor --fix and the first baseline)", flush=True)
    init = run([sys.executable, "-m", "testfloor", "init", "--requirement", args.testfloor], project, environ)
    print(init.stdout + init.stderr)
    doctor = json.loads(run([sys.executable, "-m", "testfloor", "doctor", "--json"], project, environ).stdout)

    print("3. nox -s collect coverage baseline", flush=True)
    sessions = run(
        [sys.executable, "-m", "nox", "--no-color", "-s", "collect", "coverage", "baseline"], project, environ
    )
    print(sessions.stdout + sessions.stderr)

    settings = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["testfloor"]
    totals = json.loads((project / "coverage.json").read_text(encoding="utf-8"))["totals"]
    summary = {
        "before": {"exit": before.returncode, "last_line": last[0] if last else ""},
        "after": {"status": doctor["status"], "collected": doctor["collected"]},
        "stubbed": settings.get("stubs", []),
        "env": sorted(settings.get("env", {})),
        "quarantined": [{"node": entry["node"], "reason": entry["reason"]} for entry in settings.get("quarantine", [])],
        "coverage": {
            "covered_lines": totals["covered_lines"],
            "statements": totals["num_statements"],
            "percent": round(totals["percent_covered"], 2),
        },
        "baseline": (project / "coverage-baseline.json").is_file(),
        "sessions_exit": sessions.returncode,
    }
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print("Summary")
    print(f"  before: pytest --collect-only exits {before.returncode}: {summary['before']['last_line']}")
    print(f"  after:  {doctor['status']}, {doctor['collected']} tests collected")
    print(f"  stubbed: {', '.join(summary['stubbed']) or 'nothing'}")
    print(f"  env vars discovered: {', '.join(summary['env']) or 'none'}")
    for entry in summary["quarantined"]:
        print(f"  quarantined: {entry['node']}: {entry['reason']}")
    print(f"  coverage: {summary['coverage']['percent']}% ({totals['covered_lines']}/{totals['num_statements']} lines)")
    print(f"  baseline: {'written' if summary['baseline'] else 'missing'}; nox exit {sessions.returncode}")
    print(f"  everything is in {project}")
    return 0 if sessions.returncode == 0 and doctor["status"] != "failing" else 1


if __name__ == "__main__":
    raise SystemExit(main())
