import sys

from mlkit.course.cli import main

sys.exit(main())
