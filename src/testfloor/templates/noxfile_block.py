# >>> testfloor >>> (written by `testfloor init`; settings live in pyproject.toml [tool.testfloor])
import nox  # noqa: E402
import testfloor.nox as floor  # noqa: E402

PROJECT = floor.load()
PYTHONS = floor.pythons(PROJECT)  # [tool.testfloor] python, else the classifiers, within requires-python


@nox.session(python=PYTHONS[-1], tags=["gate"])
def collect(session: nox.Session) -> None:
    """Collect the suite without running it: fails on any collection error."""
    floor.install(session, PROJECT)
    floor.collect(session, PROJECT)


@nox.session(python=PYTHONS, requires=["collect"], tags=["tests"])
@floor.split(PROJECT)  # [tool.testfloor] splits = N: one session, and CI job, per pytest-split group
def tests(session: nox.Session, group: int | None = None) -> None:  # noqa: PT028 (a nox session)
    """Run the suite (or one group of it) under coverage on one Python; failing tests do not stop the report."""
    floor.install(session, PROJECT)
    floor.run_tests(session, PROJECT, *session.posargs, group=group, allow_failures=True)


@nox.session(python=PYTHONS[-1], requires=["tests"], tags=["report"])
def coverage(session: nox.Session) -> None:
    """Combine the data of every Python (and group) and write coverage.xml, coverage.json and coverage.md."""
    floor.install(session, PROJECT)
    floor.report(session, PROJECT)


@nox.session(python=PYTHONS[-1], requires=["coverage"], tags=["report"])
def baseline(session: nox.Session) -> None:
    """Fail if coverage dropped below the committed baseline."""
    floor.install(session, PROJECT)
    floor.check_baseline(session, PROJECT)


@nox.session(python=PYTHONS[-1], default=False)
def durations(session: nox.Session) -> None:
    """Record how long each test takes in .test_durations, which splits the suite evenly; commit it."""
    floor.install(session, PROJECT, floor.SPLITTER)
    floor.store_durations(session, PROJECT, *session.posargs, allow_failures=True)


# <<< testfloor <<<
