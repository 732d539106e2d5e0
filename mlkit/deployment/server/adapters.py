"""The model interface of lesson 04's server: one adapter per kind of registered model.

The server (:mod:`mlkit.deployment.server.app`) knows HTTP, metrics, the inference log, the
cache, micro-batching and faults; an adapter knows one kind of model:

* its request and response schemas (:meth:`ModelAdapter.schemas`: ``/predict`` takes one
  item, ``/predict/batch`` a list of them under :attr:`~ModelAdapter.batch_field`);
* how to load it by registry URI (:meth:`~ModelAdapter.load`, through the training stage's
  own loader) and check that serving scores as the model does (:meth:`~ModelAdapter.check`);
* the two steps of scoring, :meth:`~ModelAdapter.featurize` then :meth:`~ModelAdapter.predict`
  (:meth:`~ModelAdapter.score` runs both on a batch);
* what a prediction looks like to the client (:meth:`~ModelAdapter.answer`), to the
  ``mlkit_predictions_total`` metric (:meth:`~ModelAdapter.label`) and in the inference log
  (:attr:`~ModelAdapter.input_fields`, :attr:`~ModelAdapter.output_fields`,
  :meth:`~ModelAdapter.log_record`);
* what a badly wrong answer is (:meth:`~ModelAdapter.corrupt`, the bad-output fault).

Two kinds (:data:`ADAPTERS`): ``spam`` (:class:`SpamAdapter`, lesson 02's texts-in pipeline:
messages in, P(spam) and a label out) and ``bike`` (:class:`BikeAdapter`, the bike-demand
model of :mod:`mlkit.training.bike`: rows in, bikers per hour out). A new kind is a subclass
registered in :data:`ADAPTERS`.

This module evaluates its annotations when the classes are made (no ``from __future__ import
annotations``): the schemas are built per server from its limits.
"""

import abc
import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from mlkit.data import textstats
from mlkit.deployment.server.settings import ServerSettings
from mlkit.training import bike
from mlkit.training.tracking import SPAM_MODEL


@dataclasses.dataclass(frozen=True)
class Scored:
    """One item scored: the model's number (P(spam), bikers per hour) and what else the log keeps."""

    value: float
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Schemas(NamedTuple):
    """The request and response models of ``/predict`` (one item) and ``/predict/batch``."""

    predict: type[BaseModel]
    batch: type[BaseModel]
    predict_response: type[BaseModel]
    batch_response: type[BaseModel]


class ModelAdapter(abc.ABC):
    """One kind of registered model, as the server sees it (subclass it for a new kind)."""

    kind: ClassVar[str]
    title: ClassVar[str]  # the OpenAPI title
    default_uri: ClassVar[str]  # served when MLKIT_MODEL_URI is not set
    noun: ClassVar[str]  # one item: "message", "row"
    batch_field: ClassVar[str]  # the list in a batch request: "messages", "rows"
    example: ClassVar[dict[str, Any]]  # a valid /predict body, shown in error messages
    input_fields: ClassVar[tuple[str, ...]]  # the inference log's summary of an input
    output_fields: ClassVar[tuple[str, ...]]  # the inference log's fields of a prediction (null on error)

    # ------------------------------------------------------------ at start-up
    @classmethod
    @abc.abstractmethod
    def schemas(cls, settings: ServerSettings) -> Schemas:
        """Request and response models, with the server's limits."""

    @classmethod
    @abc.abstractmethod
    def load(cls, uri: str, settings: ServerSettings) -> "ModelAdapter":
        """The model registered at ``uri``; raises when it is not one of this kind."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise unless :meth:`score` gives what the model's own predict gives (run once at start-up)."""

    def set_quantized(self, on: bool) -> None:
        """Swap in (or out) an int8 model; only kinds that have one support it."""
        raise ValueError(f"the {self.kind} model has no int8 version: quantize applies to the spam MLP only")

    # ------------------------------------------------------------ per request
    @staticmethod
    @abc.abstractmethod
    def unpack(request: BaseModel) -> tuple[list[Any], dict[str, Any]]:
        """The items of a parsed request (one or a batch), and its options (e.g. the threshold)."""

    @abc.abstractmethod
    def featurize(self, items: Sequence[Any]) -> Any:
        """The model's input for a batch of items."""

    @abc.abstractmethod
    def predict(self, features: Any) -> list[Scored]:
        """One :class:`Scored` per item of the batch."""

    def score(self, items: Sequence[Any]) -> list[Scored]:
        """Featurize, then predict: one model call for the batch."""
        return self.predict(self.featurize(items))

    @abc.abstractmethod
    def answer(self, scored: Scored, options: Mapping[str, Any]) -> dict[str, Any]:
        """One prediction as the response shows it."""

    @abc.abstractmethod
    def label(self, scored: Scored, options: Mapping[str, Any]) -> str:
        """The label counted in ``mlkit_predictions_total{label}``."""

    @abc.abstractmethod
    def summary(self, item: Any) -> dict[str, Any]:
        """The inference log's summary of one input (the :attr:`input_fields`)."""

    def raw(self, item: Any) -> dict[str, Any]:
        """The raw input, logged only with ``MLKIT_LOG_TEXT=1`` (nothing when the summary is the input)."""
        return {}

    def log_record(self, item: Any, scored: Scored | None, options: Mapping[str, Any]) -> dict[str, Any]:
        """The model's part of one inference-log line: the input summary, then the output fields
        (null when the request failed)."""
        out = self.answer(scored, options) if scored is not None else {}
        return {**self.summary(item), **{f: out.get(f, scored.extra.get(f) if scored else None)
                                         for f in self.output_fields}}

    @abc.abstractmethod
    def cache_key(self, item: Any) -> Hashable:
        """Equal inputs, equal keys (the prediction cache)."""

    @abc.abstractmethod
    def corrupt(self, scored: Scored) -> Scored:
        """A badly wrong answer for the same input (the bad-output fault)."""

    # ------------------------------------------------------------ limits, from the settings
    ENVELOPE: ClassVar[int] = 1024  # bytes of a request besides its items: keys, brackets, options

    @classmethod
    @abc.abstractmethod
    def item_bytes(cls, settings: ServerSettings) -> int:
        """The most bytes one schema-valid item can take in a JSON body, whatever its script or escaping."""

    @classmethod
    def max_body(cls, settings: ServerSettings) -> int:
        """The largest request body the server reads: the largest batch that its schema allows, in
        the longest JSON spelling, fits (the one limit that follows from ``max_batch`` and the item's)."""
        return cls.ENVELOPE + settings.max_batch * cls.item_bytes(settings)

    @classmethod
    def size_hint(cls, settings: ServerSettings) -> str:
        """What a client may send at most (the 413 message), in the schema's own numbers."""
        return f"send at most {settings.max_batch} {cls.noun}s per batch"


# ---------------------------------------------------------------------- the spam classifier
Threshold = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, description="P(spam) above which 'spam'")]


class SpamPrediction(BaseModel):
    label: str = Field(description="'spam' or 'ham'")
    spam_probability: float


class SpamAdapter(ModelAdapter):
    """Lesson 02's spam pipeline (TF-IDF + MLP, :func:`mlkit.training.tracking.load_spam_model`):
    SMS messages in, P(spam) and a label out."""

    kind = "spam"
    title = "mlkit spam classifier"
    default_uri = f"models:/{SPAM_MODEL}@champion"
    noun = "message"
    batch_field = "messages"
    example = {"text": "see you at 6"}
    input_fields = textstats.FIELDS  # lesson 01's message statistics
    output_fields = ("tfidf_nnz", "spam_probability", "label")

    def __init__(self, clf: Any) -> None:
        self.clf = clf
        self.fp32 = clf.model

    @classmethod
    def schemas(cls, settings: ServerSettings) -> Schemas:
        Text = Annotated[str, Field(min_length=1, max_length=settings.max_chars, description="the SMS message")]

        class PredictRequest(BaseModel):
            """One message to score."""

            model_config = ConfigDict(extra="forbid", strict=True)
            text: Text
            threshold: Threshold = 0.5

        class BatchRequest(BaseModel):
            """Several messages to score at once."""

            model_config = ConfigDict(extra="forbid", strict=True)
            messages: Annotated[list[Text], Field(min_length=1, max_length=settings.max_batch)]
            threshold: Threshold = 0.5

        class PredictResponse(SpamPrediction):
            request_id: str
            model_version: str

        class BatchResponse(BaseModel):
            request_id: str
            model_version: str
            predictions: list[SpamPrediction]

        return Schemas(PredictRequest, BatchRequest, PredictResponse, BatchResponse)

    @classmethod
    def item_bytes(cls, settings: ServerSettings) -> int:
        # a character outside the BMP written as a JSON escape pair (\ud83d\ude00) takes 12
        # bytes, more than any UTF-8 spelling (at most 4); 64 for quotes, comma and whitespace
        return 12 * settings.max_chars + 64

    @classmethod
    def size_hint(cls, settings: ServerSettings) -> str:
        return f"send at most {settings.max_batch} messages of at most {settings.max_chars} characters each"

    @classmethod
    def load(cls, uri: str, settings: ServerSettings) -> "SpamAdapter":
        import torch

        from mlkit.training import tracking

        torch.set_num_threads(settings.threads)
        return cls(tracking.load_spam_model(uri))

    def check(self) -> None:
        import numpy as np

        texts = ["WIN a free prize now, call 0800 123", "see you at 6 at the station"]
        got = [s.value for s in self.score(texts)]
        want = np.asarray(self.clf.predict_proba(texts), dtype=float)
        if not np.allclose(got, want, atol=1e-5):
            raise RuntimeError(f"server scoring {got} differs from predict_proba {want}")

    def set_quantized(self, on: bool) -> None:
        import torch
        from torch import nn

        if on:
            import warnings

            with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
                warnings.simplefilter("ignore")
                from torch.ao.quantization import quantize_dynamic

                self.clf.model = quantize_dynamic(self.fp32, {nn.Linear}, dtype=torch.qint8)
        else:
            self.clf.model = self.fp32

    @staticmethod
    def unpack(request: BaseModel) -> tuple[list[Any], dict[str, Any]]:
        texts = list(request.messages) if hasattr(request, "messages") else [request.text]
        return texts, {"threshold": request.threshold}

    def featurize(self, items: Sequence[str]) -> Any:
        return self.clf.vectorizer.transform(list(items))

    def predict(self, features: Any) -> list[Scored]:
        import torch

        with torch.inference_mode():
            logits = self.clf.model(torch.from_numpy(features.toarray().astype("float32")))
            proba = torch.softmax(logits, dim=1)[:, 1].tolist()
        return [Scored(p, {"tfidf_nnz": int(n)}) for p, n in zip(proba, features.getnnz(axis=1))]

    def answer(self, scored: Scored, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"label": self.label(scored, options), "spam_probability": scored.value}

    def label(self, scored: Scored, options: Mapping[str, Any]) -> str:
        return "spam" if scored.value >= options["threshold"] else "ham"

    def summary(self, item: str) -> dict[str, Any]:
        return textstats.summary(item)

    def raw(self, item: str) -> dict[str, Any]:
        return {"text": item}

    def cache_key(self, item: str) -> Hashable:
        return item

    def corrupt(self, scored: Scored) -> Scored:
        return Scored(1.0 - scored.value, scored.extra)  # spam and ham swapped


# ---------------------------------------------------------------------- the bike-demand model
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, description="a share of its maximum, 0-1")]


# JSON Schema's "integer" includes 11.0 (a number with no fraction); strict pydantic would refuse it
Whole = BeforeValidator(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)


class BikeRow(BaseModel):
    """One hour to predict (the inputs of :mod:`mlkit.training.bike`)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    hr: Annotated[int, Field(ge=0, le=23, description="hour of the day, 0-23"), Whole]
    workingday: Annotated[Literal[0, 1], Whole]
    weathersit: Literal[bike.WEATHER]  # type: ignore[valid-type]
    temp: Unit
    hum: Unit
    windspeed: Unit


class BikePrediction(BaseModel):
    bikers: float = Field(description="predicted riders in the hour")


class BikeAdapter(ModelAdapter):
    """The bike-demand model (:class:`mlkit.training.bike.BikeModel`, lesson 06): rows of weather
    and time in, bikers per hour out."""

    kind = "bike"
    title = f"mlkit {bike.BIKE_MODEL} model"
    default_uri = f"models:/{bike.BIKE_MODEL}@champion"
    noun = "row"
    batch_field = "rows"
    example = {"hr": 8, "workingday": 1, "weathersit": "clear", "temp": 0.5, "hum": 0.6, "windspeed": 0.2}
    input_fields = bike.INPUTS
    output_fields = (bike.TARGET,)

    def __init__(self, model: bike.BikeModel) -> None:
        self.model = model

    @classmethod
    def schemas(cls, settings: ServerSettings) -> Schemas:
        class BikeBatchRequest(BaseModel):
            """Several hours to predict at once."""

            model_config = ConfigDict(extra="forbid", strict=True)
            rows: Annotated[list[BikeRow], Field(min_length=1, max_length=settings.max_batch)]

        class BikePredictResponse(BikePrediction):
            request_id: str
            model_version: str

        class BikeBatchResponse(BaseModel):
            request_id: str
            model_version: str
            predictions: list[BikePrediction]

        return Schemas(BikeRow, BikeBatchRequest, BikePredictResponse, BikeBatchResponse)

    @classmethod
    def item_bytes(cls, settings: ServerSettings) -> int:
        # six keys and values, every character a 6-byte escape, numbers with 40 digits: under 1 KiB
        return 1024

    @classmethod
    def load(cls, uri: str, settings: ServerSettings) -> "BikeAdapter":
        return cls(bike.BikeModel.load(uri))

    def check(self) -> None:
        import numpy as np
        import pandas as pd

        rows = [self.example, {**self.example, "hr": 17, "workingday": 0, "weathersit": bike.WEATHER[-1]}]
        got = [s.value for s in self.score(rows)]
        want = self.model.predict(pd.DataFrame(rows))
        if not np.allclose(got, want, rtol=1e-9, atol=1e-9):
            raise RuntimeError(f"server scoring {got} differs from BikeModel.predict {list(want)}")

    @staticmethod
    def unpack(request: BaseModel) -> tuple[list[Any], dict[str, Any]]:
        rows = request.rows if hasattr(request, "rows") else [request]
        return [r.model_dump() for r in rows], {}

    def featurize(self, items: Sequence[Mapping[str, Any]]) -> Any:
        import pandas as pd

        return bike.encode(pd.DataFrame(list(items), columns=list(bike.INPUTS)))

    def predict(self, features: Any) -> list[Scored]:
        return [Scored(float(v)) for v in self.model.predict_encoded(features)]

    def answer(self, scored: Scored, options: Mapping[str, Any]) -> dict[str, Any]:
        return {bike.TARGET: scored.value}

    def label(self, scored: Scored, options: Mapping[str, Any]) -> str:
        return "count"  # a regression: every prediction is a count

    def summary(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {c: item[c] for c in bike.INPUTS}

    def cache_key(self, item: Mapping[str, Any]) -> Hashable:
        return tuple(item[c] for c in bike.INPUTS)

    def corrupt(self, scored: Scored) -> Scored:
        return Scored(scored.value - 10_000.0, scored.extra)  # an impossible, negative count


ADAPTERS: dict[str, type[ModelAdapter]] = {a.kind: a for a in (SpamAdapter, BikeAdapter)}


def adapter_for(kind: str) -> type[ModelAdapter]:
    """The adapter of ``kind``; a ValueError names the known kinds."""
    if kind not in ADAPTERS:
        raise ValueError(f"unknown model kind {kind!r}: MLKIT_MODEL_KIND must be one of {sorted(ADAPTERS)}")
    return ADAPTERS[kind]
