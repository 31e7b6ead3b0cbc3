"""OpenTelemetry tracing set-up: spans stay in-process unless an exporter is configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from core.settings import TelemetrySettings


def _exporter(settings: TelemetrySettings) -> SpanExporter | None:
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    if settings.exporter == "otlp":
        # Imported lazily: the OTLP exporter is an optional install.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint or None)  # type: ignore[no-any-return]
    if settings.exporter == "none":
        return None
    raise ValueError(f"unknown telemetry exporter {settings.exporter!r}")


def make_tracer_provider(settings: TelemetrySettings) -> TracerProvider:
    """A tracer provider for this process; every span gets a trace id even with no exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    exporter = _exporter(settings)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
