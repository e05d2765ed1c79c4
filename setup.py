"""Build hook for the one optional C extension (everything else is in pyproject.toml).

`alerts.rules._scan` speeds the matcher up; when it cannot be compiled (no C compiler), the install
goes on without it and `alerts.rules.lexicon` uses the same algorithm in Python.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("alerts.rules._scan", ["alerts/rules/_scan.c"], optional=True)])
