from __future__ import annotations

from pathlib import Path

import pytest

from helpers import make_file
from testfloor.dependencies import (
    Declared,
    Metadata,
    distribution_for,
    heavy_module,
    installable,
    light_and_heavy,
    read_metadata,
)
from testfloor.errors import ConfigError


def requirements(metadata: Metadata) -> list[str]:
    return [item.requirement for item in metadata.requirements]


def sources(metadata: Metadata) -> dict[str, str]:
    return {item.requirement: item.source for item in metadata.requirements}


def test_pep_621_dependencies_test_extras_python_and_classifiers_are_read(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "My_App"
        requires-python = ">=3.11"
        classifiers = ["Programming Language :: Python :: 3.13", "Programming Language :: Python :: 3.11",
                       "Programming Language :: Python :: 3 :: Only"]
        dependencies = ["fastapi>=0.110", "pydantic"]

        [project.optional-dependencies]
        test = ["pytest", "my-app[lint]", "freezegun==1.5.1"]
        dev-tools = ["ipython"]
        lint = ["ruff"]
        docs = ["sphinx"]
        all = ["redis"]
        """,
    )
    metadata = read_metadata(tmp_path)
    assert requirements(metadata) == ["fastapi>=0.110", "pydantic", "pytest", "freezegun==1.5.1", "ipython", "ruff"]
    assert sources(metadata)["fastapi>=0.110"] == "pyproject.toml [project]"
    assert sources(metadata)["ruff"] == "pyproject.toml [project.optional-dependencies.lint]"
    assert metadata.requires_python == ">=3.11"
    assert metadata.pythons == ("3.11", "3.13")
    assert metadata.local == (".",)
    assert metadata.locked == {}


def test_dependency_groups_that_look_like_testing_are_resolved_with_their_includes(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [dependency-groups]
        test = ["pytest", {include-group = "typing"}]
        typing = ["mypy"]
        docs = ["sphinx"]
        dev = [{include-group = "test"}, "httpx"]
        """,
    )
    metadata = read_metadata(tmp_path)
    assert requirements(metadata) == ["pytest", "mypy", "httpx"]
    assert sources(metadata)["mypy"] == "pyproject.toml [dependency-groups.test]"
    assert metadata.local == ()


def test_poetry_main_dev_groups_and_legacy_dev_dependencies_are_converted(tmp_path: Path) -> None:
    make_file(tmp_path / "core" / "pyproject.toml", '[tool.poetry]\nname = "myproj-core"\n')
    make_file(
        tmp_path / "pyproject.toml",
        """
        [tool.poetry]
        name = "myproj"
        classifiers = ["Programming Language :: Python :: 3.12"]

        [tool.poetry.dependencies]
        python = "^3.12"
        fastapi = "^0.110.0"
        sqlalchemy = {version = "^2.0", extras = ["asyncio"]}
        myproj-core = {path = "core", develop = true}
        wheelhouse = {path = "dist/thing.whl"}
        private = {git = "https://example.org/private.git"}
        redis = {version = "^5", optional = true}

        [tool.poetry.group.dev.dependencies]
        pytest = "8.3.2"
        freezegun = "*"

        [tool.poetry.group.docs.dependencies]
        sphinx = "*"

        [tool.poetry.dev-dependencies]
        httpx = ">=0.27,<1"
        """,
    )
    metadata = read_metadata(tmp_path)
    assert requirements(metadata) == [
        "fastapi>=0.110.0,<0.111.0",
        "sqlalchemy[asyncio]>=2.0,<3.0",
        "pytest==8.3.2",
        "freezegun",
        "httpx>=0.27,<1",
    ]
    assert sources(metadata)["pytest==8.3.2"] == "pyproject.toml [tool.poetry.group.dev]"
    assert sources(metadata)["httpx>=0.27,<1"] == "pyproject.toml [tool.poetry.dev-dependencies]"
    assert metadata.requires_python == ">=3.12,<4.0"
    assert metadata.pythons == ("3.12",)
    assert metadata.local == ("core",)  # the root has no [build-system]: pip cannot build a Poetry project
    assert metadata.notes == (
        "pyproject.toml [tool.poetry.dependencies]: wheelhouse is a file or a missing directory; not installed",
        "pyproject.toml [tool.poetry.dependencies]: private comes from a repository or URL; not installed by name",
    )


def test_requirements_files_are_read_with_their_includes_and_local_paths(tmp_path: Path) -> None:
    make_file(tmp_path / "requirements.txt", "fastapi==0.115.0  # pinned\n-r requirements/base.txt\n")
    make_file(
        tmp_path / "requirements" / "base.txt",
        """
        # the base set
        -r ../requirements.txt
        -c constraints.txt
        --index-url https://example.org/simple
        pydantic>=2 \\
            --hash=sha256:abc
        https://example.org/wheels/thing-1.0-py3-none-any.whl
        -e git+https://example.org/repo.git#egg=repo
        -e ./libs/shared[test]
        -e .
        """,
    )
    make_file(tmp_path / "requirements" / "dev.txt", "pytest\nfastapi\n./vendor/tool\nfile:wheels\n")
    make_file(tmp_path / "dev-requirements.txt", "freezegun\n")
    make_file(tmp_path / "requirements_test.txt", "respx\n")
    make_file(tmp_path / "requirements-docs.txt", "sphinx\n")
    make_file(tmp_path / "requirements-test.txt", "testfloor\n")  # testfloor's own output, never a source
    make_file(tmp_path / "notes.txt", "not requirements\n")
    make_file(tmp_path / "tests" / "requirements.txt", "httpx[http2]\n")
    metadata = read_metadata(tmp_path)
    # requirements.txt (and what it includes), the others at the top, requirements/, tests/requirements.txt
    assert requirements(metadata) == ["fastapi==0.115.0", "pydantic>=2", "freezegun", "respx", "pytest", "httpx[http2]"]
    assert sources(metadata)["pydantic>=2"] == "requirements/base.txt"
    assert sources(metadata)["httpx[http2]"] == "tests/requirements.txt"
    # pip reads local paths from where it runs, the project's directory, not from the file's
    assert metadata.local == ("libs/shared", ".", "vendor/tool", "wheels")


def test_setup_cfg_gives_requirements_test_extras_python_and_classifiers(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", "[tool.black]\nline-length = 100\n")
    make_file(
        tmp_path / "setup.cfg",
        """
        [metadata]
        name = legacy-app
        classifiers =
            Programming Language :: Python :: 3.10

        [options]
        python_requires = >=3.10
        install_requires =
            requests>=2  # HTTP
            legacy-app-plugins
        tests_require = mock

        [options.extras_require]
        testing = pytest-mock
        docs = sphinx
        """,
    )
    metadata = read_metadata(tmp_path)
    assert requirements(metadata) == ["requests>=2", "legacy-app-plugins", "mock", "pytest-mock"]
    assert sources(metadata)["pytest-mock"] == "setup.cfg [testing]"
    assert (metadata.requires_python, metadata.pythons, metadata.local) == (">=3.10", ("3.10",), (".",))


def test_setup_cfg_file_directives_are_noted_not_followed(tmp_path: Path) -> None:
    make_file(
        tmp_path / "setup.cfg",
        "[metadata]\nclassifiers = file: classifiers.txt\n[options]\ninstall_requires = file: requirements.in\n",
    )
    metadata = read_metadata(tmp_path)
    assert (metadata.requirements, metadata.pythons, metadata.local) == ((), (), ())
    assert metadata.notes == ("setup.cfg: install_requires reads a file; not read",)


def test_without_the_backend_setup_py_is_read_from_its_literal_arguments(tmp_path: Path) -> None:
    make_file(
        tmp_path / "setup.py",
        """
        import setuptools

        REQUIRES = ["tensorflow>=2.15", "flask"]
        VERSION = open("VERSION").read()

        setuptools.setup(
            name="old-app",
            version=VERSION,
            install_requires=REQUIRES,
            python_requires=">=3.9",
            extras_require={"test": ["pytest", "old-app-helpers"], "gpu": ["cupy"]},
            tests_require="nose\\n# a comment\\n",
            classifiers=("Programming Language :: Python :: 3.11", 3),
            entry_points=[e for e in ()],
        )
        """,
    )
    metadata = read_metadata(tmp_path, backend=False)
    assert requirements(metadata) == ["tensorflow>=2.15", "flask", "nose", "pytest", "old-app-helpers"]
    assert sources(metadata)["pytest"] == "setup.py [test]"
    assert (metadata.requires_python, metadata.pythons, metadata.local) == (">=3.9", ("3.11",), (".",))
    assert metadata.notes == ()
    assert light_and_heavy(metadata) == (["flask", "nose", "pytest", "old-app-helpers"], ["tensorflow"])


def test_a_setup_py_argument_that_is_not_a_literal_is_noted(tmp_path: Path) -> None:
    make_file(tmp_path / "setup.py", "from setuptools import setup\nsetup(install_requires=read('requirements.in'))\n")
    assert read_metadata(tmp_path, backend=False).notes == ("setup.py: install_requires is not a literal; not read",)


def test_a_setup_py_without_a_setup_call_declares_nothing(tmp_path: Path) -> None:
    make_file(tmp_path / "setup.py", "print('hello')\n")
    metadata = read_metadata(tmp_path, backend=False)
    assert (metadata.requirements, metadata.requires_python, metadata.local) == ((), None, (".",))


def test_a_failing_backend_falls_back_to_the_literal_arguments_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import build.util

    def fail(directory: Path, isolated: bool = True) -> None:
        raise build.BuildBackendException(RuntimeError("boom"), "Backend subprocess exited\nwith a traceback")

    monkeypatch.setattr(build.util, "project_wheel_metadata", fail)
    make_file(tmp_path / "sub" / "setup.py", "from setuptools import setup\nsetup(install_requires=['attrs'])\n")
    metadata = read_metadata(tmp_path)
    assert requirements(metadata) == ["attrs"]
    assert metadata.local == ("sub",)
    assert metadata.notes == (
        "sub/setup.py: the build backend failed (Backend subprocess exited); read its literal arguments instead",
    )


def test_dynamic_dependencies_without_setup_py_need_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import build.util

    def fail(directory: Path, isolated: bool = True) -> None:
        raise OSError

    monkeypatch.setattr(build.util, "project_wheel_metadata", fail)
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "dyn"\ndynamic = ["dependencies", "version"]\n')
    assert read_metadata(tmp_path).notes == (
        "pyproject.toml: the build backend failed (OSError); read its literal arguments instead",
        "pyproject.toml: dynamic metadata not read without the build backend",
    )
    assert read_metadata(tmp_path, backend=False).notes == (
        "pyproject.toml: dynamic metadata not read without the build backend",
    )


def test_the_backend_answers_with_its_requires_dist_and_extras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import email.message

    import build.util

    metadata = email.message.Message()
    metadata["Name"] = "asked"
    metadata["Requires-Python"] = ">=3.10"
    for line in (
        "requests>=2",
        'pytest; extra == "test"',
        'tomli; python_version < "3.11" and extra == "testing"',
        'sphinx; extra == "docs"',
        'rich; (extra == "dev" or extra == "cli") and os_name == "posix"',
    ):
        metadata["Requires-Dist"] = line
    metadata["Classifier"] = "Programming Language :: Python :: 3.12"
    monkeypatch.setattr(build.util, "project_wheel_metadata", lambda directory, isolated=True: metadata)
    make_file(tmp_path / "setup.py", "from setuptools import setup\nsetup()\n")
    declared = read_metadata(tmp_path)
    assert requirements(declared) == ["requests>=2", "pytest", 'tomli; python_version < "3.11"', "rich"]
    assert sources(declared)["rich"] == "setup.py [dev]"
    assert (declared.requires_python, declared.pythons) == (">=3.10", ("3.12",))


@pytest.mark.slow
def test_the_real_backend_reads_a_setuptools_setup_py(tmp_path: Path) -> None:
    make_file(
        tmp_path / "setup.py",
        """
        from setuptools import setup

        def requires():
            return ["requests>=2"]

        setup(
            name="real-app",
            version="1.0",
            py_modules=["real_app"],
            install_requires=requires(),
            extras_require={"test": ["pytest"]},
            python_requires=">=3.9",
        )
        """,
    )
    make_file(tmp_path / "real_app.py")
    before = sorted(path.name for path in tmp_path.iterdir())
    metadata = read_metadata(tmp_path)
    assert requirements(metadata) == ["requests>=2", "pytest"]
    assert sources(metadata)["pytest"] == "setup.py [test]"
    assert (metadata.requires_python, metadata.notes) == (">=3.9", ())
    assert sorted(path.name for path in tmp_path.iterdir()) == before  # setuptools' egg-info removed


def test_workspace_members_and_nested_projects_are_local_and_never_required_by_name(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "monorepo"
        dependencies = ["myproj-core", "fastapi"]

        [tool.uv.workspace]
        members = ["packages/*"]
        exclude = ["packages/skipped"]

        [tool.uv]
        dev-dependencies = ["pytest>=8"]
        """,
    )
    make_file(
        tmp_path / "packages" / "core" / "pyproject.toml",
        """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "myproj_core"
        requires-python = ">=3.12"
        dependencies = ["httpx", "monorepo"]
        """,
    )
    make_file(tmp_path / "packages" / "skipped" / "pyproject.toml", '[project]\nname = "skipped"\n')
    make_file(tmp_path / "packages" / "notes" / "README.md")
    make_file(tmp_path / "a" / "b" / "c" / "setup.py", "from setuptools import setup\nsetup(name='deep')\n")
    make_file(tmp_path / "backend" / "pyproject.toml", '[project]\nname = "backend"\ndependencies = ["deep"]\n')
    make_file(tmp_path / "backend" / "requirements.txt", "sqlalchemy\n")
    make_file(tmp_path / "backend" / "uv.lock", '[[package]]\nname = "SQLAlchemy"\nversion = "2.0.36"\n')
    make_file(tmp_path / "docs" / "pyproject.toml", "[tool.ruff]\n")
    make_file(tmp_path / "tests" / "data" / "fixture" / "pyproject.toml", '[project]\nname = "fixture"\n')
    make_file(tmp_path / ".venv" / "lib" / "setup.py", "")
    metadata = read_metadata(tmp_path, backend=False)
    assert requirements(metadata) == ["fastapi", "pytest>=8", "httpx", "sqlalchemy"]
    assert sources(metadata)["httpx"] == "packages/core/pyproject.toml [project]"
    assert sources(metadata)["pytest>=8"] == "pyproject.toml [tool.uv] dev-dependencies"
    assert sources(metadata)["sqlalchemy"] == "backend/requirements.txt"
    # Only what has a build system (or setup.py) is installed from its path; the others are not installable.
    assert metadata.local == ("packages/core", "a/b/c")
    assert metadata.requires_python == ">=3.12"
    assert metadata.locked == {"sqlalchemy": "2.0.36"}


def test_duplicates_keep_the_first_pinned_declaration_in_the_first_place_with_every_extra(tmp_path: Path) -> None:
    make_file(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "app"
        dependencies = ["SQLAlchemy", "uvicorn[standard]>=0.30", "tomli; python_version < '3.11'", "celery>=5"]

        [dependency-groups]
        dev = ["sqlalchemy[asyncio]>=2.0", "Uvicorn==0.31", "sqlalchemy==2.0.1", "tomli>=2", "Celery[redis]"]
        """,
    )
    metadata = read_metadata(tmp_path)
    assert metadata.requirements == (
        Declared("sqlalchemy[asyncio]>=2.0", "pyproject.toml [dependency-groups.dev]"),
        Declared("uvicorn[standard]>=0.30", "pyproject.toml [project]"),
        Declared("tomli; python_version < '3.11'", "pyproject.toml [project]"),
        Declared("celery[redis]>=5", "pyproject.toml [project]"),
        Declared("tomli>=2", "pyproject.toml [dependency-groups.dev]"),
    )


def test_a_file_url_dependency_is_noted_and_not_required(tmp_path: Path) -> None:
    make_file(tmp_path / "pyproject.toml", '[project]\ndependencies = ["core @ file:///srv/core", "idna"]\n')
    metadata = read_metadata(tmp_path)
    assert requirements(metadata) == ["idna"]
    assert metadata.notes == ("pyproject.toml [project]: core is a local path; installed from its path, if at all",)


def test_lock_files_pin_what_they_lock_once(tmp_path: Path) -> None:
    make_file(
        tmp_path / "poetry.lock",
        """
        [[package]]
        name = "FastAPI"
        version = "0.115.2"

        [[package]]
        name = "numpy"
        version = "1.26.4"

        [[package]]
        name = "numpy"
        version = "2.1.0"

        [[package]]
        name = "editable"
        source = {editable = "."}

        [metadata]
        lock-version = "2.0"
        """,
    )
    make_file(
        tmp_path / "uv.lock",
        '[[package]]\nname = "fastapi"\nversion = "0.100.0"\n[[package]]\nname = "x"\nversion = "1"\n',
    )
    assert read_metadata(tmp_path).locked == {"fastapi": "0.115.2", "x": "1"}
    make_file(tmp_path / "uv.lock", 'package = "nothing"\n')
    assert read_metadata(tmp_path).locked == {"fastapi": "0.115.2"}


def test_light_requirements_are_pinned_to_the_lock_when_it_fits_and_heavy_ones_are_left_out() -> None:
    metadata = Metadata(
        requirements=tuple(
            Declared(text, "requirements.txt")
            for text in (
                "fastapi>=0.110",
                "httpx[http2]; python_version >= '3.11'",
                "pydantic==2.9.0",
                "starlette<0.30",
                "uvicorn==0.30.*",
                "pkg @ https://example.org/pkg-1.0.tar.gz",
                "torch>=2",
                "opencv-python-headless",
                "pytorch-lightning",
                "torch",
            )
        ),
        locked={
            "fastapi": "0.115.2",
            "httpx": "0.28.1",
            "pydantic": "2.10.0",
            "starlette": "0.41.0",
            "uvicorn": "0.30.6",
            "pkg": "1.0",
        },
    )
    light, heavy = light_and_heavy(metadata)
    assert light == [
        "fastapi==0.115.2",
        'httpx[http2]==0.28.1; python_version >= "3.11"',
        "pydantic==2.9.0",
        "starlette<0.30",
        "uvicorn==0.30.6",
        "pkg @ https://example.org/pkg-1.0.tar.gz",
    ]
    assert heavy == ["torch", "cv2", "pytorch_lightning"]


@pytest.mark.parametrize(
    ("requirement", "module"),
    [
        ("tensorflow-cpu>=2.15", "tensorflow"),
        ("opencv-python", "cv2"),
        ("opencv-python-headless==4.10", "cv2"),
        ("pytorch-lightning", "pytorch_lightning"),
        ("open-clip-torch", "open_clip"),
        ("Sentence_Transformers[train]", "sentence_transformers"),
        ("torch ; sys_platform == 'linux'", "torch"),
        ("ray[tune]>=2.9", "ray"),
        ("fastapi", None),
        ("", None),
    ],
)
def test_heavy_modules_are_found_from_their_distributions(requirement: str, module: str | None) -> None:
    assert heavy_module(requirement) == module


def test_a_missing_module_is_installed_as_the_project_declares_it_else_as_installed_else_by_table() -> None:
    metadata = Metadata(
        requirements=(
            Declared("scikit-learn>=1.5", "pyproject.toml [project]"),
            Declared("opencv-python-headless==4.10.0.84", "requirements.txt"),
            Declared("httpx", "requirements.txt"),
        ),
        locked={"scikit-learn": "1.7.2"},
    )
    installed = {"google": ["googleapis-common-protos", "protobuf"], "jwt": ["PyJWT"], "cv2": ["opencv-python"]}
    assert distribution_for("sklearn.linear_model", metadata) == "scikit-learn==1.7.2"
    assert distribution_for("cv2", metadata, installed) == "opencv-python-headless==4.10.0.84"
    assert distribution_for("httpx", metadata) == "httpx"
    assert distribution_for("google.protobuf", metadata, installed) == "protobuf"
    assert distribution_for("jwt", metadata, {"jwt": ["jwt-fork"]}) == "jwt-fork"
    assert distribution_for("jwt", metadata, installed) == "PyJWT"
    assert distribution_for("yaml", metadata) == "PyYAML"
    assert distribution_for("attr", metadata) == "attrs"
    assert distribution_for("some_lib", metadata) == "some-lib"


def test_a_missing_plugin_is_installed_as_its_pytest_distribution_with_the_projects_pin() -> None:
    # The index's `xdist` 0.0.2 is no pytest plugin, even where an environment has it installed.
    assert distribution_for("xdist", Metadata(), {"xdist": ["xdist"]}, plugin=True) == "pytest-xdist"
    assert distribution_for("xdist", Metadata(), {"xdist": ["xdist"]}) == "xdist"
    assert distribution_for("pytest_timeout", Metadata(), plugin=True) == "pytest-timeout"
    declared = Metadata(requirements=(Declared("pytest-xdist==3.8.0", "requirements-dev.txt"),))
    assert distribution_for("xdist", declared, plugin=True) == "pytest-xdist==3.8.0"


def test_an_installable_project_needs_a_build_system_setup_cfg_or_setup_py(tmp_path: Path) -> None:
    assert not installable(tmp_path)
    make_file(tmp_path / "pyproject.toml", "[tool.pytest.ini_options]\n")
    assert not installable(tmp_path)
    make_file(tmp_path / "pyproject.toml", '[project]\nname = "app"\n')
    assert not installable(tmp_path)
    make_file(tmp_path / "setup.cfg", "[metadata]\nname = x\n")
    assert installable(tmp_path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pyproject.toml", "[project\n", r"pyproject.toml: invalid TOML: "),
        ("pyproject.toml", "project = 1\n", r"pyproject.toml: \[project\] must be a table"),
        (
            "pyproject.toml",
            "[project]\ndependencies = 'x'\n",
            r"pyproject.toml: dependencies must be a list of strings",
        ),
        (
            "pyproject.toml",
            "[project]\ndependencies = ['fast api']\n",
            r"pyproject.toml: invalid requirement 'fast api': Expected",
        ),
        (
            "pyproject.toml",
            "[project]\nrequires-python = '>=3.x'\n",
            r"requires-python: invalid Python requirement '>=3.x'",
        ),
        ("pyproject.toml", "[dependency-groups]\ntest = [{include-group = 'nope'}]\n", r"\[dependency-groups\] test: "),
        ("pyproject.toml", "[tool.uv.workspace]\nmembers = 'packages/*'\n", r"members must be a list of strings"),
        ("pyproject.toml", "[tool.poetry.dependencies]\npython = '^banana'\n", r"\[tool.poetry\] Invalid version"),
        (
            "pyproject.toml",
            "[tool.poetry.dependencies]\nx = 1\n",
            r"\[tool.poetry.dependencies\] x: expected a version or a table",
        ),
        (
            "pyproject.toml",
            "[tool.poetry.dependencies]\nx = {version = 1}\n",
            r"\[tool.poetry.dependencies\] x: version, python and markers",
        ),
        (
            "pyproject.toml",
            "[tool.poetry.group.dev]\ndependencies = []\n",
            r"\[tool.poetry\] dependencies must be a table",
        ),
        ("pyproject.toml", b"\xff\xfe", r"pyproject.toml: cannot read: "),
        ("uv.lock", "[[package]\n", r"uv.lock: invalid TOML: "),
        ("requirements.txt", "-r missing.txt\n", r"missing.txt: cannot read: "),
        ("requirements.txt", "# comment\nfast api\n", r"requirements.txt:2: invalid requirement 'fast api'"),
        ("setup.cfg", "[options\n", r"setup.cfg: cannot read: File contains no section headers. file: "),
        ("setup.py", "setup(\n", r"setup.py: cannot parse: "),
    ],
)
def test_a_file_that_cannot_be_read_raises_config_error_naming_it(
    tmp_path: Path, name: str, text: str | bytes, message: str
) -> None:
    if isinstance(text, bytes):
        (tmp_path / name).write_bytes(text)
    else:
        make_file(tmp_path / name, text)
    with pytest.raises(ConfigError, match=message) as caught:
        read_metadata(tmp_path, backend=False)
    assert "\n" not in str(caught.value)
