"""The gateway fixtures, for the end-to-end test here."""

from tests.gateway.conftest import gateway_settings  # noqa: F401  (a fixture, used by name)
