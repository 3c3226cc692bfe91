"""One description of a user's project, read once: its settings, layout, declared metadata and Pythons.

``init``, ``doctor``, the test environment and the nox helpers all need the
same facts about a project: where its tests and importable packages are, what
it declares (dependencies from every source, its own local packages, its
Pythons), its coverage settings and testfloor's own settings. `describe` reads
them once into a frozen `Project`; a change to the project's files (a fix
``doctor`` writes) is seen by describing it again.
"""

from __future__ import annotations

import configparser
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from testfloor import layout
from testfloor.config import load_config
from testfloor.coverageconfig import read_coverage_settings
from testfloor.dependencies import read_metadata
from testfloor.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from testfloor.config import Config
    from testfloor.coverageconfig import CoverageSettings
    from testfloor.dependencies import Metadata

SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Project:
    """What testfloor knows of one project.

    `config` is ``[tool.testfloor]`` (with the environment's overrides when
    they were asked for), `metadata` what the project declares, `pythons` the
    Pythons its sessions run on, `test_roots` the directories its tests are
    collected from and `packages` its importable top-level packages (both
    POSIX paths below `root`), `coverage` its own coverage settings, if any.
    """

    config: Config
    metadata: Metadata
    pythons: tuple[str, ...]
    test_roots: tuple[str, ...]
    packages: tuple[str, ...]
    coverage: CoverageSettings | None

    @property
    def root(self) -> Path:
        """The project's root directory."""
        return self.config.root


def describe(root: Path, *, environ: Mapping[str, str] | None = None, backend: bool = False) -> Project:
    """Read the project at `root` into one `Project`.

    `environ` applies ``TESTFLOOR_*`` variables to the settings; `backend`
    lets the project's build backend report what ``setup.py`` declares
    (slower: it builds the backend's environment). A file that cannot be read
    raises `ConfigError` naming it.
    """
    config = load_config(root, environ=environ)
    metadata = read_metadata(root, backend=backend)
    try:
        roots = layout.test_roots(root, config)
    except ValueError as err:  # naming the file
        raise ConfigError(str(err)) from None
    try:
        coverage = read_coverage_settings(root)
    except (OSError, ValueError, configparser.Error) as err:
        raise ConfigError(f"{root}: cannot read the coverage settings: {' '.join(str(err).split())}") from None
    return Project(
        config=config,
        metadata=metadata,
        pythons=tuple(choose_pythons(config, metadata)),
        test_roots=tuple(roots),
        packages=tuple(layout.packages(root)),
        coverage=coverage,
    )


def choose_pythons(config: Config, metadata: Metadata, *, warn: Callable[[str], None] = lambda line: None) -> list[str]:
    """Return the Python versions the test sessions run on.

    The candidates are ``[tool.testfloor] python`` (which ``testfloor
    init`` writes), else the trove classifiers the project declares in any of
    its metadata, else the versions testfloor supports when the project
    states a ``Requires-Python`` (``requires-python``, ``python_requires``,
    Poetry's ``python``), else the running interpreter's version; the stated
    requirement then removes those it excludes (`warn` is told of each).
    """
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = list(config.python) or list(metadata.pythons)
    requires = metadata.requires_python
    if requires is None:
        return candidates or [running]
    from packaging.specifiers import SpecifierSet

    allowed = SpecifierSet(requires)
    # A minor version qualifies when its first or a late patch release does (">=3.11.4" keeps 3.11).
    kept = [v for v in candidates or list(SUPPORTED) if allowed.contains(f"{v}.0") or allowed.contains(f"{v}.99")]
    for dropped in [v for v in candidates if v not in kept]:
        warn(f"Python {dropped} left out: the project requires Python {requires}")
    return kept or [running]
