"""Lesson 01, the data stage: collect, prepare, validate, version."""
