"""Helpers of the template's tests (and benchmarks): answers, the engine, running courses, combinations."""
