from __future__ import annotations

import pytest

from testfloor.loopscope import FIXTURE_SCOPE_INI, TEST_SCOPE_INI, _release, installed_version, plan

# Before 1.0, pytest-asyncio still has its own `event_loop` fixture, and honours a legacy override of it.
INSTALLED = _release(installed_version() or "0")
needs_1_x = pytest.mark.skipif(INSTALLED < (1,), reason="pytest-asyncio < 1.0 still provides event_loop itself")
# The nox session `compat` runs these tests against old pytest-asyncio releases too.
can_share_a_loop = pytest.mark.skipif(
    (0, 22) <= INSTALLED < (0, 24), reason="pytest-asyncio 0.22 and 0.23 cannot share one loop (#706)"
)
has_is_async_test = pytest.mark.skipif(INSTALLED < (0, 23), reason="pytest_asyncio.is_async_test came in 0.23")


@pytest.mark.parametrize("version", ["1.5.0", "1.0.0", "0.26.0", "2.0.0rc1", "0.26.dev3", "1.0.0rc1"])
def test_recent_versions_get_both_default_loop_scopes(version: str) -> None:
    chosen = plan(version, "session")
    assert dict(chosen.ini) == {FIXTURE_SCOPE_INI: "session", TEST_SCOPE_INI: "session"}
    assert not chosen.mark_tests
    assert chosen.problem is None


def test_only_1_x_gets_the_compat_event_loop() -> None:
    assert plan("1.5.0", "session").event_loop == "compat"
    assert plan("0.26.0", "session").event_loop is None


@pytest.mark.parametrize("version", ["0.24.0", "0.25.3", "0.25.0rc9"])
def test_0_24_and_0_25_get_the_fixture_option_and_marked_tests(version: str) -> None:
    chosen = plan(version, "module")
    assert dict(chosen.ini) == {FIXTURE_SCOPE_INI: "module"}
    assert chosen.mark_tests


@pytest.mark.parametrize("version", ["0.22.0", "0.23.8"])
def test_0_23_cannot_share_a_loop_and_says_why(version: str) -> None:
    chosen = plan(version, "session")
    assert chosen.ini == {}
    assert chosen.describe() == [
        f"pytest-asyncio {version} cannot run async tests and fixtures in one session loop "
        "(pytest-asyncio #706): upgrade to pytest-asyncio>=0.26"
    ]


def test_0_21_shares_a_loop_through_a_scoped_event_loop() -> None:
    assert plan("0.21.2", "session").event_loop == "scoped"
    assert plan("0.21.2", "function").event_loop is None


@pytest.mark.parametrize(("installed", "scope"), [(None, "session"), ("1.5.0", "keep")])
def test_nothing_changes_without_pytest_asyncio_or_when_asked_to_keep(installed: str | None, scope: str) -> None:
    chosen = plan(installed, scope)
    assert (dict(chosen.ini), chosen.mark_tests, chosen.event_loop, chosen.describe()) == ({}, False, None, [])


def test_every_change_is_described_with_its_reason() -> None:
    assert plan("1.5.0", "session").describe() == [
        f"{FIXTURE_SCOPE_INI}=session: one session event loop for async tests and fixtures (pytest-asyncio 1.5.0)",
        f"{TEST_SCOPE_INI}=session: one session event loop for async tests and fixtures (pytest-asyncio 1.5.0)",
        "event_loop fixture provided: pytest-asyncio 1.0 removed it; it returns the running loop",
    ]
    assert plan("0.25.3", "session").describe()[-1] == (
        "async tests marked asyncio(loop_scope='session'): one session event loop for async tests and fixtures "
        "(pytest-asyncio 0.25.3)"
    )
    assert plan("0.21.2", "session").describe() == [
        "event_loop fixture with session scope: one session event loop for async tests and fixtures "
        "(pytest-asyncio 0.21.2)"
    ]


def test_the_installed_version_is_read_from_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    assert installed_version() == importlib.metadata.version("pytest-asyncio")

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr("testfloor.loopscope.version", missing)
    assert installed_version() is None


# A suite written for pytest-asyncio 0.21: a session-scoped async fixture holding loop-bound state, a legacy
# session `event_loop` override, and tests that still ask for `event_loop`.
LEGACY_CONFTEST = """
import asyncio

import pytest
import pytest_asyncio


@pytest.fixture(scope="session")
def event_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


class Pool:
    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.ready = self.loop.create_future()
        self.ready.set_result(42)


@pytest_asyncio.fixture(scope="session")
async def pool():
    return Pool()
"""

LEGACY_TESTS = """
import asyncio

import pytest


@pytest.mark.asyncio
async def test_awaits_the_pool(pool):
    assert await pool.ready == 42


@pytest.mark.asyncio
async def test_runs_in_the_pools_loop(pool):
    assert asyncio.get_running_loop() is pool.loop
"""

EVENT_LOOP_TESTS = """
import asyncio

import pytest


def test_sync_test_drives_the_loop(event_loop):
    assert event_loop.run_until_complete(asyncio.sleep(0, result=7)) == 7


@pytest.mark.asyncio
async def test_async_test_gets_the_running_loop(event_loop):
    assert event_loop is asyncio.get_running_loop()
"""


@pytest.fixture
def asyncio_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # No loop-scope option from outside: the project's own configuration and testfloor's are all there is.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")
    pytester.makeconftest(LEGACY_CONFTEST)
    pytester.makepyfile(test_legacy=LEGACY_TESTS)
    return pytester


@can_share_a_loop
def test_a_legacy_suite_passes_with_one_session_loop(asyncio_project: pytest.Pytester) -> None:
    asyncio_project.makepyprojecttoml("[tool.testfloor]\n")
    result = asyncio_project.runpytest("-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=2)
    # asyncio_default_fixture_loop_scope=session from 0.24 on, a session-scoped event_loop on 0.21.
    change = plan(installed_version(), "session").describe()[0].partition(": ")[0]
    result.stdout.fnmatch_lines([f"testfloor overrides: *asyncio: {change}*"])


@needs_1_x
def test_without_testfloor_the_same_suite_runs_in_two_loops(asyncio_project: pytest.Pytester) -> None:
    asyncio_project.makepyprojecttoml('[tool.testfloor]\nloop_scope = "keep"\n')
    result = asyncio_project.runpytest("-W", "ignore::DeprecationWarning")
    assert result.parseoutcomes().get("passed", 0) < 2
    assert "testfloor overrides" not in result.stdout.str()


@can_share_a_loop
def test_filterwarnings_error_without_a_loop_scope_does_not_crash(asyncio_project: pytest.Pytester) -> None:
    asyncio_project.makepyprojecttoml('[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n[tool.testfloor]\n')
    asyncio_project.makeconftest(LEGACY_CONFTEST.replace('@pytest.fixture(scope="session")\ndef event_loop', "def _x"))
    result = asyncio_project.runpytest()
    assert result.ret == 0
    result.assert_outcomes(passed=2)


@pytest.mark.skipif(INSTALLED < (0, 23), reason="pytest-asyncio before 0.23 accepts an event_loop override silently")
def test_the_crash_it_prevents_is_real(asyncio_project: pytest.Pytester) -> None:
    asyncio_project.makepyprojecttoml(
        '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n[tool.testfloor]\nloop_scope = "keep"\n'
    )
    result = asyncio_project.runpytest()
    # Measured: 0.23 turns the deprecation of the override into errors at setup; later releases into a crash.
    crash = pytest.ExitCode.TESTS_FAILED if INSTALLED < (0, 24) else pytest.ExitCode.INTERNAL_ERROR
    assert result.ret == crash


@needs_1_x
def test_tests_that_ask_for_event_loop_get_the_running_loop(asyncio_project: pytest.Pytester) -> None:
    asyncio_project.makepyprojecttoml("[tool.testfloor]\n")
    asyncio_project.makeconftest("")
    asyncio_project.makepyfile(test_legacy=EVENT_LOOP_TESTS)
    result = asyncio_project.runpytest()
    result.assert_outcomes(passed=2)


@needs_1_x
def test_a_scoped_event_loop_serves_sync_tests(
    asyncio_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What pytest-asyncio 0.21 gets; with 1.x installed only the fixture itself can be checked.
    monkeypatch.setattr("testfloor.loopscope.installed_version", lambda: "0.21.2")
    asyncio_project.makepyprojecttoml("[tool.testfloor]\n")
    asyncio_project.makeconftest("")
    asyncio_project.makepyfile(
        test_legacy="""
        import asyncio

        def test_one(event_loop):
            assert event_loop.run_until_complete(asyncio.sleep(0, result=1)) == 1

        def test_same_loop_for_the_session(event_loop, request):
            assert request.fixturenames.count("event_loop") == 1
            assert not event_loop.is_closed()
        """
    )
    result = asyncio_project.runpytest("-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["testfloor overrides: *event_loop fixture with session scope*"])


@has_is_async_test
def test_old_versions_get_their_async_tests_marked(
    asyncio_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("testfloor.loopscope.installed_version", lambda: "0.25.3")
    asyncio_project.makepyprojecttoml("[tool.testfloor]\n")
    asyncio_project.makeconftest(
        """
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(items):
            for item in items:
                print("MARKS", item.name, [mark.kwargs for mark in item.iter_markers("asyncio")])
        """
    )
    asyncio_project.makepyfile(test_marks="def test_sync():\n    pass\n")
    result = asyncio_project.runpytest("-W", "ignore::DeprecationWarning", "--co", "-q", "-s")
    result.stdout.fnmatch_lines(
        ["MARKS test_awaits_the_pool [[]{}, {'loop_scope': 'session'}[]]", "MARKS test_sync []"], consecutive=False
    )
