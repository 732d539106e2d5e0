"""Errors that learners and instructors meet, each with a message that says what to do."""


class MlkitError(Exception):
    """Base class: a problem the user can fix, reported without a deep traceback."""


class DeviceError(MlkitError, ValueError):
    """An unknown or unavailable compute device was asked for."""


class DataFileError(MlkitError, FileNotFoundError):
    """A shipped data file is missing or does not match its checksum."""


class ProcessError(MlkitError, RuntimeError):
    """A server or job started by :mod:`mlkit.course.processes` failed; the message holds its log."""
