"""The model server's settings: read once from the environment at start-up (pydantic-settings),
and the part that ``POST /admin/settings`` changes while it serves.

===============================  ======================================================================
``MLKIT_MODEL_KIND``             which model adapter serves: ``spam`` (default) or ``bike``
                                 (:data:`mlkit.deployment.server.adapters.ADAPTERS`)
``MLKIT_MODEL_URI``              registry URI to serve (default: the kind's champion,
                                 ``models:/spam-classifier@champion``)
``MLFLOW_TRACKING_URI``          the MLflow store holding the registry (read by MLflow itself)
``MLKIT_VERSION_LABEL``          overrides the version label in responses and metrics (e.g. "4-broken")
``MLKIT_INFERENCE_LOG``          a JSON-lines file: one line per scored item
                                 (:mod:`mlkit.deployment.server.inference_log`)
``MLKIT_LOG_TEXT``               "1": the inference log also keeps each raw input (a message's text)
``MLKIT_MAX_BATCH``              most items in one batch request (256)
``MLKIT_MAX_CHARS``              longest message (2,000 characters)
``MLKIT_MAX_BODY``               largest request body in bytes (1,000,000)
``MLKIT_THREADS``                torch threads of the spam model (1)
``MLKIT_FAULT_LATENCY_MS``       extra latency per request (fault injection; 0)
``MLKIT_FAULT_ERROR_RATE``       share of requests answered 500 (fault injection; 0)
``MLKIT_FAULT_BAD_OUTPUT_RATE``  share of answers the model gets badly wrong (fault injection; 0):
                                 the adapter says how (a flipped P(spam), a negative count)
``MLKIT_FAULT_FEATURIZE_MS``     extra time in the featurize step of each model call (fault injection; 0):
                                 lesson 05 finds it from a trace
``MLKIT_TRACE_FILE``             a JSON-lines file: the OpenTelemetry spans of each request
                                 (:mod:`mlkit.monitoring.tracing`; off when not set)
``MLKIT_MICROBATCH_MS``          server-side micro-batching window in ms (0: off)
``MLKIT_CACHE_SIZE``             cached predictions for repeated inputs (0: off)
``MLKIT_QUANTIZE``               "int8": dynamic int8 quantization of the spam MLP's linear layers
===============================  ======================================================================

A bad value stops the server at start-up with a message naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LatencyMs = Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False, description="milliseconds, 0-10,000")]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, description="a share from 0 to 1")]
WindowMs = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False, description="milliseconds, 0-1,000")]
CacheSize = Annotated[int, Field(ge=0, le=1_000_000, description="entries, 0 (off) to 1,000,000")]

RUNTIME = ("fault_latency_ms", "fault_error_rate", "fault_bad_output_rate", "fault_featurize_ms", "microbatch_ms",
           "cache_size", "quantize")  # what POST /admin/settings may change


class RuntimeSettings(BaseModel):
    """The body of ``POST /admin/settings``: fault injection, micro-batching, the cache, quantization.
    Fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")
    fault_latency_ms: LatencyMs | None = None
    fault_error_rate: Share | None = None
    fault_bad_output_rate: Share | None = None
    fault_featurize_ms: LatencyMs | None = None
    microbatch_ms: WindowMs | None = None
    cache_size: CacheSize | None = None
    quantize: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The fields that were sent."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ServerSettings(BaseSettings):
    """Everything a server process reads from its environment (``MLKIT_<NAME>``), once."""

    model_config = SettingsConfigDict(env_prefix="MLKIT_", extra="ignore", env_ignore_empty=True,
                                      protected_namespaces=())
    model_kind: str = "spam"
    model_uri: str | None = None
    version_label: str | None = None
    inference_log: Path | None = None
    log_text: bool = False
    max_batch: Annotated[int, Field(ge=1, le=10_000)] = 256
    max_chars: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    max_body: Annotated[int, Field(ge=1_000, le=100_000_000)] = 1_000_000
    threads: Annotated[int, Field(ge=1, le=256)] = 1
    fault_latency_ms: LatencyMs = 0.0
    fault_error_rate: Share = 0.0
    fault_bad_output_rate: Share = 0.0
    fault_featurize_ms: LatencyMs = 0.0
    trace_file: Path | None = None
    microbatch_ms: WindowMs = 0.0
    cache_size: CacheSize = 0
    quantize: bool = False

    @field_validator("quantize", mode="before")
    @classmethod
    def _int8(cls, value: Any) -> Any:
        """``MLKIT_QUANTIZE=int8`` (the launcher's spelling) means on; ``fp32`` or ``none`` off."""
        if isinstance(value, str) and value.strip().lower() in ("int8", "fp32", "none"):
            return value.strip().lower() == "int8"
        return value

    def runtime(self) -> dict[str, Any]:
        """The settings ``POST /admin/settings`` may change, as the server starts with them."""
        return {k: getattr(self, k) for k in RUNTIME}


def read() -> ServerSettings:
    """The settings of this process; a bad value raises SystemExit naming the variable and the rule."""
    from pydantic import ValidationError

    try:
        return ServerSettings()
    except ValidationError as exc:
        problems = "; ".join(f"MLKIT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"mlkit model server: bad setting(s): {problems}") from None
