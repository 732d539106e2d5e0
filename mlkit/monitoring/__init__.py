"""Lesson 05, monitoring: metrics from a model server, a real Prometheus, drift, alerts.

Modules (import them qualified, e.g. ``from mlkit.monitoring import scrape``):

- ``scrape``: scrape a ``/metrics`` endpoint, parse it with the Prometheus client's
  parser, rates and quantiles from histogram buckets computed as ``histogram_quantile`` does;
- ``prom``: run Prometheus (and optionally Alertmanager) on 127.0.0.1, query it with PromQL;
- ``alerts``: SLOs, multi-window burn-rate alert rules, the same rules evaluated in Python;
- ``drift``: PSI, KS and Wasserstein, and :class:`drift.DriftDetector` built on Evidently
  (lesson 06 calls it to decide when to retrain);
- ``inference_log``: the server's JSON-lines inference log read with pandas;
- ``dashboard``: a live dashboard in the notebook and a Grafana dashboard JSON;
- ``traffic``: requests with our own ids, and lesson 04's fault injection switched on and off;
- ``colocation``: training beside serving, measured (phases of steady load, each process's CPU and
  memory, a trainer held back); ``trainer``: the training job it starts;
- ``tracing``: OpenTelemetry spans of the router and the model server, read back, drawn as a waterfall;
- ``webhook``: a local receiver for Alertmanager's notifications;
- ``widget``: the lesson's main widget, a drift injector.

Nothing heavy is imported here.
"""
