"""testfloor's pytest plugin: hooks only, in the order pytest calls them; the work lives in other modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from testfloor.collect import Recorder
    from testfloor.config import Config
    from testfloor.env import Applied
    from testfloor.loopscope import LoopPlan
    from testfloor.pytestconfig import Override
    from testfloor.repair import QuarantinedConftests
    from testfloor.stubs import StubFinder

_CONFIG: pytest.StashKey[Config] = pytest.StashKey()
_APPLIED: pytest.StashKey[Applied] = pytest.StashKey()
_OVERRIDES: pytest.StashKey[list[Override]] = pytest.StashKey()
_LOOP: pytest.StashKey[LoopPlan] = pytest.StashKey()
_RECORDER: pytest.StashKey[Recorder] = pytest.StashKey()
_SYS_PATH: pytest.StashKey[list[str]] = pytest.StashKey()
_STUBS: pytest.StashKey[StubFinder] = pytest.StashKey()
_EXERCISED: pytest.StashKey[set[str]] = pytest.StashKey()
_BLANKED: pytest.StashKey[QuarantinedConftests | None] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testfloor")
    group.addoption(
        "--testfloor-collect-report",
        metavar="PATH",
        default=None,
        help="testfloor: write what collection found (node ids, errors, exit status, overrides) to PATH as JSON",
    )
    group.addoption(
        "--testfloor-stubs-report",
        metavar="PATH",
        default=None,
        help="testfloor: write which stubbed modules were imported, and by which modules, to PATH as JSON",
    )


def pytest_plugin_registered(plugin: object, plugin_name: str, manager: pytest.PytestPluginManager) -> None:
    # A plugin module registered under its own name came from `-p NAME` (or `pytest_plugins`): its entry point,
    # loaded next under another name, would register it twice.
    if plugin_name == getattr(plugin, "__name__", None):
        from testfloor import repair

        repair.skip_entry_point(plugin_name, manager)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    # A wrapper runs before every other plugin's implementation (pytest-cov starts measuring in its own), and
    # before any conftest is imported: settings built at import time must see the environment, and options of
    # plugins that are not installed must go before pytest rejects them.
    _prepare(early_config, parser, args)
    try:
        return (yield)
    except (Exception, SystemExit) as exc:
        # A root conftest that fails to import (or exits) stops pytest before any session: the probe records why.
        path = getattr(early_config.known_args_namespace, "testfloor_collect_report", None)
        if path is not None:
            from testfloor.collect import record_early_failure

            record_early_failure(path, exc, early_config.rootpath)
        raise


def _prepare(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    import os
    import sys
    from collections import Counter

    from testfloor import env, repair
    from testfloor.config import find_project_root, load_config
    from testfloor.errors import ConfigError

    try:
        config = load_config(find_project_root(early_config.rootpath, os.environ), environ=os.environ)
    except ConfigError as err:
        raise pytest.UsageError(f"testfloor: {err}") from None
    early_config.stash[_CONFIG] = config
    early_config.stash[_APPLIED] = env.apply(config.env, os.environ)
    before = list(sys.path)
    overrides = repair.before_conftests(early_config, parser, args, config) if config.configured else []
    # Counted: a sub-project's root already on the path is put first again, and that copy is taken away after.
    early_config.stash[_SYS_PATH] = list((Counter(sys.path) - Counter(before)).elements())
    if config.quarantine:
        overrides.append(repair.quarantine_override(config))
        early_config.stash[_BLANKED] = repair.blank_conftests(config)
    early_config.stash[_OVERRIDES] = overrides
    if config.stubs:
        # Every hook imports `from testfloor.stubs`, so that all of them use the module in sys.modules.
        from testfloor.shims import declared_versions
        from testfloor.stubs import install

        versions = declared_versions(config.root)
        early_config.stash[_STUBS] = install(config.stubs, config.stub_mode, versions=versions, environ=os.environ)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Before pytest-asyncio reads its options.
    settings = config.stash.get(_CONFIG, None)
    if settings is not None and settings.configured:
        from testfloor import repair

        # Stranded options first: testfloor's loop scope must win over a stranded one.
        config.stash[_OVERRIDES] += repair.stranded(config)
        config.stash[_LOOP] = loop = repair.loop_scope(config, settings.loop_scope)
        config.stash[_OVERRIDES] += [repair.loop_override(line) for line in loop.describe()]
    path = config.getoption("testfloor_collect_report")
    if path is not None:
        from testfloor.collect import Recorder

        overrides: list[Override] = config.stash.get(_OVERRIDES, [])
        config.stash[_RECORDER] = recorder = Recorder(path, overrides, config.rootpath)
        config.pluginmanager.register(recorder, "testfloor-recorder")


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(_CONFIG, None)
    if settings is None or not settings.configured:
        return []
    from testfloor.env import describe, scrub

    lines = [f"testfloor: {settings.pyproject}"]
    lines.extend(f"testfloor: warning: {warning}" for warning in settings.warnings)
    applied = config.stash[_APPLIED]
    if settings.env:
        lines.append(f"testfloor env: {', '.join(describe(settings.env, applied.outer))}")
    overrides = config.stash[_OVERRIDES]
    if overrides:
        from testfloor.repair import header_lines

        lines.extend(header_lines(overrides))
    if _STUBS in config.stash:
        # Before collection: what importing each name gives. Which were imported is known after it.
        from testfloor.stubs import planned

        shown = ", ".join(f"{name} ({state})" for name, state in planned(settings.stubs).items())
        lines.append(f"testfloor stubs (mode {settings.stub_mode}): {shown}")
    return [scrub(line, settings.env) for line in lines]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # Every plugin has registered its markers by now, and collection (where --strict-markers bites) is next.
    settings = session.config.stash.get(_CONFIG, None)
    if settings is not None and settings.configured:
        from testfloor import repair

        session.config.stash[_OVERRIDES] += repair.markers(session.config)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    settings = config.stash.get(_CONFIG, None)
    if settings is None or not settings.quarantine:
        return None
    from testfloor import repair

    return True if repair.quarantined(config, settings, collection_path) else None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    # A module that calls exit() at import would end the whole run (INTERNALERROR> SystemExit); in a project
    # testfloor manages, and in doctor's probe (which must see what --fix will see), it is that module's collection
    # error instead. pytest before 8.2.1 makes it one itself, and nothing reaches this handler.
    settings = collector.config.stash.get(_CONFIG, None)
    recorder = collector.config.stash.get(_RECORDER, None)
    try:
        return (yield)
    except SystemExit as exc:
        if recorder is None and (settings is None or not settings.configured):
            raise
        from testfloor.collect import exit_report

        return exit_report(collector, exc, recorder)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # The loop plan exists exactly when the project has [tool.testfloor], which is where a quarantine comes from.
    loop = config.stash.get(_LOOP, None)
    if loop is not None and (loop.mark_tests or config.stash[_CONFIG].quarantine):
        from testfloor import repair

        if loop.mark_tests:
            repair.mark_async_tests(items, loop.scope)
        repair.deselect_quarantined(config, config.stash[_CONFIG], items)


def pytest_collection_finish(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if _STUBS in session.config.stash and reporter is not None:
        from testfloor.stubs import status

        shown = ", ".join(f"{name} ({state})" for name, state in status(session.config.stash[_CONFIG].stubs).items())
        reporter.write_line(f"testfloor stubs after collection: {shown}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    if _STUBS not in item.config.stash:
        return (yield)
    from testfloor.stubs import watch

    with watch() as item.stash[_EXERCISED]:
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    settings = item.config.stash.get(_CONFIG, None)
    if settings is None or not settings.configured or report.outcome == "skipped" or call.when == "teardown":
        return report
    from testfloor.outcomes import requested, skip_reason

    error = None if call.excinfo is None else call.excinfo.value
    exercised = item.stash.get(_EXERCISED, set()) if call.when == "call" else set()
    fixtures = requested(item) if call.when == "call" and _STUBS in item.config.stash else {}
    reason = skip_reason(error, exercised, fixtures, settings.stubs)
    if reason is not None:
        report.outcome = "skipped"
        path, line = item.reportinfo()[:2]
        report.longrepr = (str(path), (line or 0) + 1, f"Skipped: {reason}")
        if hasattr(report, "wasxfail"):
            del report.wasxfail  # an unexpected pass on stub values is no xpass
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if _STUBS not in config.stash:
        return
    from testfloor.stubs import count_skips

    counts = count_skips(terminalreporter.stats.get("skipped", []))
    if counts:
        terminalreporter.write_sep("-", "testfloor stubs")
        for name, count in counts.items():
            terminalreporter.write_line(f"{count} skipped: test exercised stubbed module {name!r}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("testfloor_stubs_report")
    if path is not None:
        from testfloor.stubs import write_report

        settings = session.config.stash[_CONFIG]
        write_report(path, settings.stubs, settings.stub_mode)


def pytest_unconfigure(config: pytest.Config) -> None:
    import os

    applied = config.stash.get(_APPLIED, None)
    if applied is not None:
        applied.restore(os.environ)
    import contextlib
    import sys

    for entry in config.stash.get(_SYS_PATH, []):
        with contextlib.suppress(ValueError):  # already gone
            sys.path.remove(entry)
    blanked = config.stash.get(_BLANKED, None)
    if blanked is not None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(blanked)
    if _STUBS in config.stash:
        from testfloor.stubs import uninstall

        uninstall()
