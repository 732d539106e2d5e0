"""Lesson 00, the overview: the lifecycle map and its stages."""
