"""testfloor's pytest plugin: hooks only, in the order pytest calls them; the work lives in other modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from testfloor.collect import Recorder
    from testfloor.config import Config
    from testfloor.env import Applied

_CONFIG: pytest.StashKey[Config] = pytest.StashKey()
_APPLIED: pytest.StashKey[Applied] = pytest.StashKey()
_RECORDER: pytest.StashKey[Recorder] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testfloor")
    group.addoption(
        "--testfloor-collect-report",
        metavar="PATH",
        default=None,
        help="testfloor: write what collection found (node ids, errors, exit status) to PATH as JSON",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Before any conftest is imported: settings built at import time must see the environment.
    import os

    from testfloor import env
    from testfloor.config import find_project_root, load_config
    from testfloor.errors import ConfigError

    try:
        config = load_config(find_project_root(early_config.rootpath), environ=os.environ)
    except ConfigError as err:
        raise pytest.UsageError(f"testfloor: {err}") from None
    early_config.stash[_CONFIG] = config
    early_config.stash[_APPLIED] = env.apply(config.env, os.environ)


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("testfloor_collect_report")
    if path is not None:
        from testfloor.collect import Recorder

        config.stash[_RECORDER] = recorder = Recorder(path)
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
    return lines


def pytest_unconfigure(config: pytest.Config) -> None:
    import os

    applied = config.stash.get(_APPLIED, None)
    if applied is not None:
        applied.restore(os.environ)
