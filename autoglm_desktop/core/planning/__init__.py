"""Fitting a model to this machine: estimate, tuner, fit verdicts, recommendations.

Also the measured thread counts and the per-model overrides. The top of the core: may import
every other part of it.
"""
