"""What the course runs on but does not teach: the ground floor, which imports no stage.

- ``workspace``: ``mlkit.setup(...)``, each lesson's folder; ``store``: the course store, which
  asks the providers that the stages register (entry points ``mlkit.store``) for what it lacks.
- ``config``: the ``MLKIT_*`` settings (pydantic-settings) and the course root, spelled once.
- ``processes``: the one launcher for servers and jobs (``BackgroundServer``, ``Job``) and the
  one way to stop processes, with ``guard``, the watchdog that stops what a dead kernel left running.
- ``http``: the one HTTP client for the course's local servers.
- ``widgets``: ``MainWidget``, the base of every lesson's main widget (``mlkit-main``).
- ``runner`` and ``results``: ``mlkit run`` and ``mlkit.report``; ``notebook``: the
  notebook normal form; ``datasets``: the shipped data sets.
- ``device``, ``text`` (ANSI stripping, a definition's source shown in a lesson), ``quiet``, ``errors``.

The command line (``mlkit/cli.py``) sits on top of every stage. Nothing here is imported by
``import mlkit`` beyond what ``mlkit.setup`` needs.
"""
