"""The benchmarks: run from the repository's root as modules, `python -m bench.run`, so that they import
`bench.common` and the tests' helpers (`tests.support`) as packages."""
