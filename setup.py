"""Build hook for the optional C extensions (everything else is in pyproject.toml).

`alerts.rules._scan` speeds the matcher up and `alerts.rules._explain` the hits of its matches;
when they cannot be compiled (no C compiler), the install goes on without them and
`alerts.rules.lexicon` and `alerts.rules.hits` do the same in Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "alerts.rules._scan",
            [
                "alerts/rules/_scan.c",
                "alerts/rules/_walk.c",
                "alerts/rules/_decide.c",
                "alerts/rules/_keys.c",
                "alerts/rules/_learn.c",
                "alerts/rules/_places.c",
            ],
            depends=["alerts/rules/_table.h", "alerts/rules/_firsts.h"],
            optional=True,
        ),
        Extension(
            "alerts.rules._explain",
            [
                "alerts/rules/_explain.c",
                "alerts/rules/_entries.c",
                "alerts/rules/_merged.c",
                "alerts/rules/_snippets.c",
            ],
            depends=["alerts/rules/_explain.h", "alerts/rules/_firsts.h"],
            optional=True,
        ),
    ]
)
