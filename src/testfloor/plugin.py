"""testfloor's pytest plugin: hooks only, in the order pytest calls them; the work lives in other modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from testfloor.collect import Recorder
    from testfloor.config import Config
    from testfloor.env import Applied
    from testfloor.loopscope import LoopPlan
    from testfloor.pytestconfig import Override

_CONFIG: pytest.StashKey[Config] = pytest.StashKey()
_APPLIED: pytest.StashKey[Applied] = pytest.StashKey()
_OVERRIDES: pytest.StashKey[list[Override]] = pytest.StashKey()
_LOOP: pytest.StashKey[LoopPlan] = pytest.StashKey()
_RECORDER: pytest.StashKey[Recorder] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testfloor")
    group.addoption(
        "--testfloor-collect-report",
        metavar="PATH",
        default=None,
        help="testfloor: write what collection found (node ids, errors, exit status, overrides) to PATH as JSON",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Before any conftest is imported: settings built at import time must see the environment, and options
    # of plugins that are not installed must go before pytest rejects them.
    import os

    from testfloor import env, repair
    from testfloor.config import find_project_root, load_config
    from testfloor.errors import ConfigError

    try:
        config = load_config(find_project_root(early_config.rootpath), environ=os.environ)
    except ConfigError as err:
        raise pytest.UsageError(f"testfloor: {err}") from None
    early_config.stash[_CONFIG] = config
    early_config.stash[_APPLIED] = env.apply(config.env, os.environ)
    early_config.stash[_OVERRIDES] = repair.before_conftests(early_config, parser, args) if config.configured else []


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Before pytest-asyncio reads its options.
    settings = config.stash.get(_CONFIG, None)
    if settings is not None and settings.configured:
        from testfloor import repair

        config.stash[_LOOP] = loop = repair.loop_scope(config, settings.loop_scope)
        config.stash[_OVERRIDES] += repair.stranded(config) + [repair.loop_override(line) for line in loop.describe()]
    path = config.getoption("testfloor_collect_report")
    if path is not None:
        from testfloor.collect import Recorder

        overrides: list[Override] = config.stash.get(_OVERRIDES, [])
        config.stash[_RECORDER] = recorder = Recorder(path, overrides)
        config.pluginmanager.register(recorder, "testfloor-recorder")


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(_CONFIG, None)
    if settings is None or not settings.configured:
        return []
    from testfloor.env import describe

    lines = [f"testfloor: {settings.pyproject}"]
    lines.extend(f"testfloor: warning: {warning}" for warning in settings.warnings)
    applied = config.stash[_APPLIED]
    if settings.env:
        lines.append(f"testfloor env: {', '.join(describe(settings.env, applied.outer))}")
    overrides = config.stash[_OVERRIDES]
    if overrides:
        lines.append(f"testfloor overrides: {'; '.join(override.change for override in overrides)}")
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # Every plugin has registered its markers by now, and collection (where --strict-markers bites) is next.
    settings = session.config.stash.get(_CONFIG, None)
    if settings is not None and settings.configured:
        from testfloor import repair

        session.config.stash[_OVERRIDES] += repair.markers(session.config)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    loop = config.stash.get(_LOOP, None)
    if loop is not None and loop.mark_tests:
        from testfloor import repair

        repair.mark_async_tests(items, loop.scope)


def pytest_unconfigure(config: pytest.Config) -> None:
    import os

    applied = config.stash.get(_APPLIED, None)
    if applied is not None:
        applied.restore(os.environ)
