"""The ``testfloor`` command line: subcommands, and the exit codes they return."""

from __future__ import annotations

import argparse
import enum
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from testfloor import __version__
from testfloor.config import (
    STUB_MODES,
    Config,
    Overrides,
    load_config,
    number_from_text,
    parse_baseline,
    parse_new_file_minimum,
    parse_python,
    parse_stubs,
    parse_tolerance,
    parse_tolerance_lines,
)
from testfloor.errors import (
    CollectionError,
    ConfigError,
    DataError,
    DiscoveryError,
    EnvironmentBuildError,
    InitError,
    NoSettingsError,
    OutputError,
    RegressionError,
    TestfloorError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from testfloor.baseline import Policy
    from testfloor.testenv import Environment


class ExitCode(enum.IntEnum):
    """What testfloor's exit status means. 1 is left to Python: an unexpected crash."""

    OK = 0
    USAGE = 2  # argparse's own: bad command-line arguments
    CONFIG = 3  # a bad [tool.testfloor] value or TESTFLOOR_* variable
    DATA = 4  # coverage data or a baseline is missing, unreadable or inconsistent
    REGRESSION = 5  # coverage is below the baseline or the required floor
    COLLECTION = 6  # the test suite does not collect
    INCOMPLETE = 7  # env discover: some settings fields need a value
    SETTINGS_IMPORT = 8  # env discover: a settings module fails to import (not by validation), or the probe fails
    NO_SETTINGS = 9  # env discover: the project has no settings classes
    QUARANTINED = 10  # doctor: the suite collects, with project bugs quarantined
    INIT = 11  # init: a file of the project would be overwritten (see --force), or cannot be read
    TIGHTER = 12  # opt-in (--fail-if-tighter): coverage rose, so the committed baseline can be tightened
    ENVIRONMENT = 13  # doctor --fix, init: the test environment cannot be built (no allowed Python, an install fails)
    OUTPUT = 14  # a file testfloor writes cannot be written (a directory, no permission)
    BROKEN_PIPE = 141  # stdout closed before the output ended (`| head`): 128 + SIGPIPE, as a shell reports it


_EXIT_FOR_ERROR: dict[type[TestfloorError], ExitCode] = {
    ConfigError: ExitCode.CONFIG,
    DataError: ExitCode.DATA,
    RegressionError: ExitCode.REGRESSION,
    CollectionError: ExitCode.COLLECTION,
    DiscoveryError: ExitCode.SETTINGS_IMPORT,
    InitError: ExitCode.INIT,
    EnvironmentBuildError: ExitCode.ENVIRONMENT,
    NoSettingsError: ExitCode.NO_SETTINGS,
    OutputError: ExitCode.OUTPUT,
}

EPILOG = "exit codes:\n" + "\n".join(f"  {code.value}  {code.name.lower()}" for code in ExitCode)


def exit_code_for(error: TestfloorError) -> ExitCode:
    """Return the exit code that `error`'s class (or its nearest base) is reported with."""
    for kind in type(error).__mro__:
        if kind in _EXIT_FOR_ERROR:
            return _EXIT_FOR_ERROR[kind]
    return ExitCode.DATA


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``testfloor`` command with `argv` (default: ``sys.argv[1:]``) and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        code = run(args)
        sys.stdout.flush()  # inside the try: output still buffered meets a closed pipe here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`testfloor config | head -1`): no traceback, and nothing more written to the pipe,
        # not even by Python's own flush at exit (the recipe of Python's documentation of SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    except TestfloorError as err:
        from testfloor.env import scrub

        # Masked like everything testfloor prints; a name with a lone surrogate is shown escaped.
        line = f"testfloor: {scrub(str(err))}"
        print(line.encode("utf-8", "backslashreplace").decode("utf-8"), file=sys.stderr)
        return exit_code_for(err)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="testfloor",
        description="A reproducible, nox-driven test environment for a Python project.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"testfloor {__version__}")
    parser.set_defaults(run=lambda _args: _usage(parser))
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    show = commands.add_parser("config", help="show the project's resolved testfloor settings")
    _add_project_options(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(run=lambda args: show_config(_config_from(args), as_json=args.json))

    report = commands.add_parser("report", help="combine coverage shards and write the reports")
    report.add_argument("--data-file", type=Path, default=Path(".coverage"), help="combined data (default .coverage)")
    report.add_argument(
        "--shard", dest="shards", type=Path, action="append", default=[], help="a shard to combine, or a glob of them"
    )
    report.add_argument("--expect", type=_count, help="fail unless exactly this many shards are found")
    report.add_argument("--jobs", type=_count, help="processes analysing the sources (default: one per core)")
    report.add_argument("--xml", type=Path, help="write a Cobertura XML report here")
    report.add_argument("--json", type=Path, help="write a coverage.py JSON report here")
    report.add_argument("--markdown", type=Path, help="write a Markdown summary here")
    report.add_argument("--fail-under", type=_percent, help="fail when the total is below this percentage")
    report.add_argument(
        "--cache", type=Path, help="keep each file's parse in this directory; unchanged files are not parsed again"
    )
    report.set_defaults(
        run=lambda args: run_report(
            args.data_file,
            args.shards,
            xml=args.xml,
            json_path=args.json,
            markdown=args.markdown,
            fail_under=args.fail_under,
            expect=args.expect,
            jobs=args.jobs,
            cache=args.cache,
        )
    )

    init = commands.add_parser("init", help="give the project testfloor's sessions, CI, settings and first baseline")
    _add_path(init)
    init.add_argument("--force", action="store_true", help="replace a noxfile or workflow of the project's own")
    init.add_argument("--dry-run", action="store_true", help="print every change as a unified diff; write nothing")
    init.add_argument("--no-fix", action="store_true", help="do not run doctor --fix or write the first baseline")
    init.add_argument("--no-install", action="store_true", help="doctor stubs missing light dependencies")
    init.add_argument(
        "--requirement",
        default=None,
        help="how the sessions and CI install testfloor (default: the way this testfloor was installed)",
    )
    init.set_defaults(
        run=lambda args: run_init(
            args.path,
            force=args.force,
            dry_run=args.dry_run,
            fix=not args.no_fix,
            install=not args.no_install,
            requirement=args.requirement,
        )
    )

    doctor = commands.add_parser(
        "doctor", help="classify every collection error and, with --fix, repair the environment"
    )
    _add_path(doctor)
    doctor.add_argument("--fix", action="store_true", help="write fixes to [tool.testfloor] and collect again")
    doctor.add_argument("--json", action="store_true", help="print JSON instead of text")
    doctor.add_argument(
        "--no-install", action="store_true", help="stub missing light dependencies instead of installing"
    )
    doctor.add_argument("--max-passes", type=_positive, default=5, help="rounds of fixing at most (default 5)")
    doctor.set_defaults(
        run=lambda args: run_doctor(
            args.path, fix=args.fix, as_json=args.json, install=not args.no_install, max_passes=args.max_passes
        )
    )

    stubs = commands.add_parser("stubs", help="list the configured stubs and the modules that import them")
    _add_project_options(stubs)
    stubs.add_argument("--json", action="store_true", help="print JSON instead of text")
    stubs.set_defaults(run=lambda args: show_stubs(_config_from(args), as_json=args.json))

    baseline = commands.add_parser(
        "baseline",
        help="compare coverage with the committed baseline",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = baseline.add_subparsers(title="actions", metavar="ACTION", required=True)
    for name, help_text in (("check", "fail if coverage dropped"), ("update", "write the baseline from current data")):
        action = actions.add_parser(
            name, help=help_text, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        _add_project_options(action)
        action.add_argument("--coverage-json", type=Path, default=Path("coverage.json"), help="coverage.py JSON report")
        _add_policy_options(action)
    check = actions.choices["check"]
    check.add_argument(
        "--markdown", metavar="PATH", type=Path, help="write a Markdown summary here (also to $GITHUB_STEP_SUMMARY)"
    )
    check.add_argument(
        "--json", dest="json_out", metavar="PATH", type=Path, help="write the comparison as JSON here ('-': stdout)"
    )
    check.add_argument("--badge", metavar="PATH", type=Path, help="write an SVG badge of the current total here")
    check.add_argument("--fail-if-tighter", action="store_true", help="exit 12 when the baseline can be tightened")
    check.set_defaults(
        run=lambda args: baseline_check(
            _config_from(args),
            args.coverage_json,
            markdown=args.markdown,
            json_out=args.json_out,
            badge=args.badge,
            fail_if_tighter=args.fail_if_tighter,
        )
    )
    update = actions.choices["update"]
    update.add_argument("--allow-decrease", action="store_true", help="write even if coverage dropped")
    update.set_defaults(
        run=lambda args: baseline_update(_config_from(args), args.coverage_json, allow_decrease=args.allow_decrease)
    )

    env = commands.add_parser("env", help="test environment variables")
    env_actions = env.add_subparsers(title="actions", metavar="ACTION", required=True)
    discover = env_actions.add_parser(
        "discover", help="find the settings classes' required variables and verified placeholder values"
    )
    _add_path(discover)
    discover.add_argument("--json", action="store_true", help="print JSON instead of a table")
    discover.add_argument("--write", action="store_true", help="add the values to [tool.testfloor.env]")
    discover.add_argument(
        "--module", dest="modules", action="append", default=[], metavar="MOD", help="a settings module (repeatable)"
    )
    discover.set_defaults(run=lambda args: env_discover(args.path, args.modules, as_json=args.json, write=args.write))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return ExitCode.USAGE


def _add_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=Path("."), help="the project (default: here)")


def _add_project_options(parser: argparse.ArgumentParser) -> None:
    _add_path(parser)
    parser.add_argument("--baseline", type=_arg(parse_baseline), help="baseline file, relative to the project")
    parser.add_argument("--python", type=_arg(parse_python, split=True), help="Python versions, comma-separated")
    parser.add_argument("--stubs", type=_arg(parse_stubs, split=True), help="modules to stub, comma-separated")
    parser.add_argument("--stub-mode", choices=STUB_MODES, help="stub only missing modules, or always")


def _add_policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tolerance", type=_arg(parse_tolerance, number=True), help="percentage points a rate may drop"
    )
    parser.add_argument(
        "--tolerance-lines", type=_arg(parse_tolerance_lines, number=True), help="lines a file may lose"
    )
    parser.add_argument(
        "--new-file-minimum",
        type=_arg(parse_new_file_minimum, number=True),
        help='percent a new file must reach, or "total" (the baseline\'s total; default)',
    )


def _arg(parse: Callable[[object], object], *, split: bool = False, number: bool = False) -> Callable[[str], object]:
    """Adapt a domain parser (which raises ValueError) to argparse (which wants ArgumentTypeError)."""

    def convert(text: str) -> object:
        try:
            if number:
                return parse(number_from_text(text))
            return parse([part.strip() for part in text.split(",") if part.strip()] if split else text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, got {text!r}")
    return int(text)


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _config_from(args: argparse.Namespace) -> Config:
    if not os.path.isdir(args.path):  # never raises: a name the system refuses is no directory either
        raise ConfigError(f"{args.path}: no such project directory")
    overrides = Overrides(
        baseline=args.baseline,
        python=args.python,
        stubs=args.stubs,
        stub_mode=args.stub_mode,
        # Only the baseline actions have the policy options.
        baseline_tolerance=getattr(args, "tolerance", None),
        baseline_tolerance_lines=getattr(args, "tolerance_lines", None),
        new_file_minimum=getattr(args, "new_file_minimum", None),
    )
    config = load_config(args.path, environ=os.environ, overrides=overrides)
    for warning in config.warnings:
        print(f"testfloor: warning: {warning}", file=sys.stderr)
    return config


def show_config(config: Config, *, as_json: bool = False) -> int:
    """Print the resolved settings of a project, secrets masked."""
    from testfloor.env import mask

    env = {name: {"override": item.override, "value": mask(name, item.value)} for name, item in config.env.items()}
    if as_json:
        document = {
            "baseline": config.baseline,
            "configured": config.configured,
            "env": env,
            "python": list(config.python),
            "root": str(config.root),
            "stub_mode": config.stub_mode,
            "stubs": list(config.stubs),
            "warnings": list(config.warnings),
        }
        print(json.dumps(document, indent=2, sort_keys=True))
        return ExitCode.OK
    where = config.pyproject if config.configured else f"{config.pyproject} (no [tool.testfloor]: defaults)"
    print(f"settings: {where}")
    print(f"baseline: {config.baseline}")
    print(f"python:   {', '.join(config.python) or '(from the project metadata)'}")
    print(f"stubs:    {', '.join(config.stubs) or '(none)'} (mode: {config.stub_mode})")
    print(f"env:      {len(env)} declared")
    for name in sorted(env):
        override = " (overrides the environment)" if env[name]["override"] else ""
        print(f"  {name}={env[name]['value']}{override}")
    return ExitCode.OK


def run_report(
    data_file: Path,
    shards: Sequence[Path],
    *,
    xml: Path | None = None,
    json_path: Path | None = None,
    markdown: Path | None = None,
    fail_under: float | None = None,
    expect: int | None = None,
    jobs: int | None = None,
    cache: Path | None = None,
) -> int:
    """Combine `shards` (if any; `expect` of them if given) into `data_file`, then write the reports and the table.

    Every report comes from one analysis per file, made by `jobs` processes,
    from the parses kept in `cache` where the files did not change.
    """
    from testfloor import report

    if shards or expect is not None:
        report.combine(shards, data_file, expect)
    outputs = report.Outputs(xml=xml, json=json_path, markdown=markdown)
    try:
        _total, table = report.write_reports(data_file, outputs, fail_under, jobs, cache)
    finally:
        if markdown is not None and markdown.is_file() and os.environ.get("GITHUB_STEP_SUMMARY"):
            _append_step_summary(markdown.read_text(encoding="utf-8"))
    print(table, end="")
    return ExitCode.OK


def _append_step_summary(text: str) -> None:
    """Append `text` to the file ``$GITHUB_STEP_SUMMARY`` names; one that cannot be written is an `OutputError`."""
    name = os.environ["GITHUB_STEP_SUMMARY"]
    try:
        with open(name, "a", encoding="utf-8") as summary:
            summary.write(text)
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise OutputError(f"{name} ($GITHUB_STEP_SUMMARY): cannot write: {reason}") from None


def _policy(config: Config) -> Policy:
    from testfloor.baseline import Policy

    return Policy.from_settings(config.baseline_tolerance, config.baseline_tolerance_lines, config.new_file_minimum)


def baseline_check(
    config: Config,
    coverage_json: Path,
    *,
    markdown: Path | None = None,
    json_out: Path | None = None,
    badge: Path | None = None,
    fail_if_tighter: bool = False,
) -> int:
    """Compare the coverage report with the committed baseline and write the outputs asked for.

    Fails on a drop beyond the tolerance or a new file below its minimum; with
    `fail_if_tighter`, returns `ExitCode.TIGHTER` when coverage rose.
    """
    from testfloor import atomic, baseline

    current = baseline.from_coverage_json(coverage_json)
    comparison = baseline.compare(baseline.read_baseline(config.baseline_path), current, config.root, _policy(config))
    # With the JSON on stdout, the lines for people go to stderr.
    terminal = sys.stderr if json_out is not None and str(json_out) == "-" else sys.stdout
    for line in baseline.describe_changes(comparison):
        print(line, file=terminal)
    print(f"total (files in both): {comparison.total.describe().split(': ', 1)[1]}", file=terminal)
    summary = baseline.to_markdown(comparison, config.baseline)
    if markdown is not None:
        atomic.write_text(markdown, summary)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        _append_step_summary(summary)
    if json_out is not None:
        document = json.dumps(comparison.to_json(), indent=2, sort_keys=True) + "\n"
        if str(json_out) == "-":
            print(document, end="")
        else:
            atomic.write_text(json_out, document)
    if badge is not None:
        atomic.write_text(badge, baseline.badge_svg(current.totals.combined_rate))
    dropped = comparison.regressions
    if dropped:
        names = ", ".join(change.path for change in dropped)
        raise RegressionError(f"coverage dropped below {config.baseline}: {names}")
    if comparison.improved:
        print(f"coverage is above {config.baseline}: `testfloor baseline update` would tighten it", file=terminal)
        return ExitCode.TIGHTER if fail_if_tighter else ExitCode.OK
    print(f"coverage is at or above {config.baseline}", file=terminal)
    return ExitCode.OK


def baseline_update(config: Config, coverage_json: Path, *, allow_decrease: bool = False) -> int:
    """Write the baseline from the coverage report; refuse to loosen it unless `allow_decrease`.

    Loosening means any drop of a kept file's rate, whatever the tolerance: the
    tolerance lets a check pass, never lowers the committed numbers.
    """
    from testfloor import baseline

    current = baseline.from_coverage_json(coverage_json)
    if config.baseline_path.exists() and not allow_decrease:
        comparison = baseline.compare(baseline.read_baseline(config.baseline_path), current, config.root)
        dropped = [change.path for change in (comparison.total, *comparison.changes) if change.dropped]
        if dropped:
            raise RegressionError(
                f"not updating {config.baseline}: coverage dropped ({', '.join(dropped)}); see --allow-decrease"
            )
    baseline.write_baseline(config.baseline_path, current)
    shown = baseline.show_percent(current.totals.combined_rate)
    print(f"wrote {config.baseline_path}: {len(current.files)} files, {shown} covered")
    return ExitCode.OK


def run_init(path: Path, *, force: bool, dry_run: bool, fix: bool, install: bool, requirement: str | None) -> int:
    """Write testfloor's files into the project, then doctor --fix and the first baseline; exit as doctor would.

    `requirement` is how the project installs testfloor; `None` means the way this testfloor was installed.
    """
    from testfloor import init

    if requirement is None:
        requirement = init.testfloor_requirement()
    result = init.run(path, requirement=requirement, force=force, dry_run=dry_run, fix=fix, install=install)
    if result.doctor is None:
        return ExitCode.OK
    codes = {"clean": ExitCode.OK, "quarantined": ExitCode.QUARANTINED, "failing": ExitCode.COLLECTION}
    return codes[result.doctor.status]


def run_doctor(path: Path, *, fix: bool, as_json: bool, install: bool, max_passes: int) -> int:
    """Collect, classify and (with `fix`) repair; exit 0 when clean, QUARANTINED or COLLECTION otherwise."""
    from testfloor import doctor, doctorreport, fixes

    config = load_config(path, environ=os.environ)

    def progress(line: str) -> None:
        print(line, file=sys.stderr)

    before = doctorreport.contents(config.root)
    # --fix verifies in the environment the sessions build; a diagnosis alone looks at this interpreter.
    if fix and fixes.write_requirements(config.root):
        progress("wrote requirements-test.txt: what the sessions install, from the project's declared dependencies")

    def prepare() -> Environment:
        from testfloor import testenv
        from testfloor.project import describe

        return testenv.for_project(describe(config.root, environ=os.environ), progress=progress)

    report = doctor.run(
        config.root,
        fix=fix,
        install=install,
        max_passes=max_passes,
        progress=progress,
        prepare=prepare if fix else None,
    )
    report = replace(
        report,
        changed=doctorreport.changed(config.root, before),
        next=doctorreport.next_step(config.root, report, fixed=fix),
    )
    lines = [*doctorreport.describe(report), *doctorreport.summarise(report)]
    print(doctorreport.to_json(report) if as_json else "\n".join(lines), end="" if as_json else "\n")
    codes = {"clean": ExitCode.OK, "quarantined": ExitCode.QUARANTINED, "failing": ExitCode.COLLECTION}
    return codes[report.status]


def env_discover(path: Path, modules: Sequence[str], *, as_json: bool = False, write: bool = False) -> int:
    """Discover the settings classes' required variables; print them masked; with `write`, record them."""
    from testfloor import settings_discovery

    config = load_config(path, environ=os.environ)
    discovery = settings_discovery.discover(config.root, modules, environ=os.environ, declared=config.env)
    if as_json:
        print(settings_discovery.to_json(discovery), end="")
    else:
        print("\n".join(settings_discovery.describe(discovery)))
    if write:
        added = settings_discovery.write_env(config.pyproject, discovery.values)
        print(f"testfloor: added {len(added)} variables to [tool.testfloor.env] in {config.pyproject}", file=sys.stderr)
    if discovery.unresolved:
        print(f"testfloor: {len(discovery.unresolved)} fields need a value", file=sys.stderr)
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def show_stubs(config: Config, *, as_json: bool = False) -> int:
    """Collect the project's tests (without running them) and show which stubs were imported, and by what."""
    import subprocess
    import tempfile

    if not config.stubs:
        print("no stubs configured ([tool.testfloor] stubs)", file=sys.stderr)
        return ExitCode.OK
    with tempfile.TemporaryDirectory(prefix="testfloor-") as directory:
        path = Path(directory) / "stubs.json"
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "testfloor", "-p", "no:xdist"]
        environ = {**os.environ, "TESTFLOOR_STUBS": ",".join(config.stubs), "TESTFLOOR_STUB_MODE": config.stub_mode}
        command.append(f"--testfloor-stubs-report={path}")
        result = subprocess.run(command, cwd=config.root, env=environ, capture_output=True, text=True, check=False)
        if not path.is_file():
            raise CollectionError(f"pytest exited with status {result.returncode} before reporting:\n{result.stderr}")
        document = json.loads(path.read_text(encoding="utf-8"))
    if as_json:
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        print(f"stubs (mode {document['mode']}):")
        for name, entry in document["stubs"].items():
            importers = f", imported by {', '.join(entry['imported_by'])}" if entry["imported_by"] else ""
            print(f"  {name}: {entry['status']}{importers}")
    if result.returncode not in (0, 5):  # 5: no tests, which is not this command's concern
        print(
            f"testfloor: collection failed (pytest status {result.returncode}); the list may be short", file=sys.stderr
        )
        return ExitCode.COLLECTION
    return ExitCode.OK
