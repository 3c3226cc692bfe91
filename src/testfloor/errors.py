"""The errors testfloor reports to its user."""

from __future__ import annotations


class TestfloorError(Exception):
    """A problem reported to the user as one line, without a traceback.

    `cli.main` catches these, prints ``testfloor: <message>`` to stderr and
    returns the exit code it names for the error's class.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name


class ConfigError(TestfloorError):
    """The project's testfloor settings are wrong: a bad key, type or value."""


class DataError(TestfloorError):
    """A data file testfloor reads (coverage data, a baseline) is missing or unreadable."""


class OutputError(TestfloorError):
    """A file testfloor writes cannot be written: its path is a directory, or not writable."""


class RegressionError(TestfloorError):
    """Coverage dropped below the committed baseline."""


class CollectionError(TestfloorError):
    """The test suite does not collect."""


class DiscoveryError(TestfloorError):
    """Settings discovery cannot finish: a settings module fails to import (not by validation), or the probe fails."""


class NoSettingsError(DiscoveryError):
    """The project has no pydantic-settings classes to discover."""


class InitError(TestfloorError):
    """``testfloor init`` would overwrite a file the project wrote, or cannot read one."""


class EnvironmentBuildError(TestfloorError):
    """The test environment the sessions build cannot be built here: no allowed Python, or an install fails."""
