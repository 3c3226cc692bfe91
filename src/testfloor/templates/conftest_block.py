# >>> testfloor >>> (written by `testfloor init`)
# testfloor's pytest plugin sets the declared environment, stubs heavy modules that are not installed and gives
# async tests one event loop, all before this file is imported; its settings live in pyproject.toml
# [tool.testfloor]. This check stops a run in which the plugin is not active. It runs once collection is done:
# pytest loads a conftest below the directories it was given only while collecting, too late for a configure hook
# to stop the run.
import pytest  # noqa: E402


@pytest.hookimpl(specname="pytest_collection_modifyitems", tryfirst=True)
def pytest_testfloor_require_plugin(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("testfloor"):
        raise pytest.UsageError(
            "testfloor's pytest plugin is not active: pip install testfloor, without -p no:testfloor"
        )


# <<< testfloor <<<
