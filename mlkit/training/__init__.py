"""Lesson 02, the training stage: the loop, models, tracking, resources, data parallelism."""
