"""mlkit: the helper package behind the ML-lifecycle lessons.

Importing it is cheap and has no side effects. Each lesson starts with an explicit
call::

    import mlkit
    ws = mlkit.setup("01_data", seed=seed, device=device, fast=fast)

and reports its key results for the batch runner with ``mlkit.report(name=value)``.
Heavy libraries (torch, mlflow, great_expectations, ...) are imported inside the
functions that use them.
"""

from mlkit.course.config import VERSION
from mlkit.course.results import report
from mlkit.course.workspace import Workspace, setup

__all__ = ["Workspace", "report", "setup", "__version__"]
__version__ = VERSION
