"""Settings for every pytest run in this repository (tests, plugins, integrations).

Hypothesis's per-example deadline is off: CI runs four suites at once on two cores, where one
example of a microsecond parser can take 300 ms, and speed is measured by `benchmarks/`, never
by a test.
"""

from hypothesis import settings

settings.register_profile("distributor", deadline=None)
settings.load_profile("distributor")
