"""What the course runs on but does not teach.

- ``workspace``: ``mlkit.setup(...)``, each lesson's folder; ``store``: the course store.
- ``config``: environment variable names and the course root, spelled once.
- ``processes``: the one launcher for servers and jobs (``BackgroundServer``, ``Job``),
  with ``guard``, the watchdog that stops what a dead kernel left running.
- ``widgets``: ``MainWidget``, the base of every lesson's main widget (``mlkit-main``).
- ``runner`` and ``results``: ``mlkit run`` and ``mlkit.report``; ``notebook``: the
  notebook normal form; ``cli``: the ``mlkit`` command.
- ``device``, ``text`` (ANSI stripping), ``errors``.

Nothing here is imported by ``import mlkit`` beyond what ``mlkit.setup`` needs.
"""
