"""Test-wide environment: a throw-away workspace home and fast lessons, for pytest and nbval."""

import os
import tempfile

# Never write into the learner's ~/mlkit-workspace; lessons run with small data.
os.environ["MLKIT_HOME"] = tempfile.mkdtemp(prefix="mlkit-test-home-")
os.environ["MLKIT_FAST"] = "1"
