"""Lesson 00, the overview: the lifecycle map and its stages (lifecycle), and the fair
stale-versus-refitted measurement behind "No monitoring" (degradation)."""
