# The checks' Python modules live one directory up (scripts/checks/); the tests import them by name.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
