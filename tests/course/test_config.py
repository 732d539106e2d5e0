"""The course's settings: env names spelled once, flags, the home folder, the course root."""

from pathlib import Path

import pytest

from mlkit.course import config
from mlkit.course.errors import MlkitError

REPO = Path(__file__).resolve().parents[2]


def test_every_env_name_is_an_mlkit_variable_and_unique():
    names = [config.HOME_ENV, config.FAST_ENV, config.STRICT_ENV, config.DEVICE_ENV, config.THREADS_ENV,
             config.ROOT_ENV]
    assert all(n.startswith("MLKIT_") for n in names) and len(set(names)) == len(names)


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), (" Yes ", True), ("on", True),
                                             ("0", False), ("false", False), ("OFF", False), ("", False)])
def test_flag(monkeypatch, value, expected):
    monkeypatch.setenv(config.FAST_ENV, value)
    assert config.flag(config.FAST_ENV) is expected


@pytest.mark.parametrize("name, value", [(config.FAST_ENV, "2"), (config.STRICT_ENV, "maybe"),
                                         (config.THREADS_ENV, "many"), (config.THREADS_ENV, "-1")])
def test_a_value_that_is_not_valid_is_a_clear_error_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(MlkitError, match=f"{name}='{value}'.*Fix or unset the variable"):
        config.settings()


def test_settings_are_typed(monkeypatch, tmp_path):
    monkeypatch.setenv(config.THREADS_ENV, "3")
    monkeypatch.setenv(config.DEVICE_ENV, "cpu")
    monkeypatch.setenv(config.ROOT_ENV, str(tmp_path))
    s = config.settings()
    assert (s.threads, s.device, s.course_root) == (3, "cpu", tmp_path)
    with pytest.raises(MlkitError, match="not a yes/no setting"):
        config.flag(config.THREADS_ENV)


def test_flag_unset_is_false(monkeypatch):
    monkeypatch.delenv(config.FAST_ENV, raising=False)
    assert config.flag(config.FAST_ENV) is False


def test_default_home(monkeypatch, tmp_path):
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "h"))
    assert config.default_home() == tmp_path / "h"
    monkeypatch.delenv(config.HOME_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.default_home() == tmp_path / "mlkit-workspace"


def fake_course(folder: Path) -> Path:
    (folder / "notebooks").mkdir(parents=True)
    (folder / "solutions").mkdir()
    return folder


def test_course_root_from_the_environment_first(monkeypatch, tmp_path):
    monkeypatch.setenv(config.ROOT_ENV, str(fake_course(tmp_path / "course")))
    assert config.course_root() == (tmp_path / "course").resolve()
    monkeypatch.setenv(config.ROOT_ENV, str(tmp_path))
    with pytest.raises(MlkitError, match=f"{config.ROOT_ENV}=.* has no notebooks/ and solutions/"):
        config.course_root()


def test_course_root_of_this_clone(monkeypatch):
    monkeypatch.delenv(config.ROOT_ENV, raising=False)
    assert config.course_root() == REPO


def test_installed_package_finds_the_course_from_the_current_folder(monkeypatch, tmp_path):
    """After a plain ``pip install .`` the package lives in site-packages: the course is found
    from the current folder or one of its parents."""
    monkeypatch.delenv(config.ROOT_ENV, raising=False)
    site = tmp_path / "venv" / "lib" / "site-packages" / "mlkit" / "course"
    monkeypatch.setattr(config, "__file__", str(site / "config.py"))
    course = fake_course(tmp_path / "clone")
    (course / "notebooks" / "deep").mkdir()
    monkeypatch.chdir(course / "notebooks" / "deep")
    assert config.course_root() == course.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MlkitError, match=f"Cannot find the course folder.*set {config.ROOT_ENV}"):
        config.course_root()
