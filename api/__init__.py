"""REST API: a Flask blueprint on the Dash app's server, built around the one Monitor it is handed."""

from flask import Flask

from detection import Monitor
from detection.delivery import Delivery
from detection.silences import Silences

from .errors import ApiError, register_error_handlers
from .json_body import register_body_guards
from .metrics import register_metrics
from .notifications import make_notifications_blueprint
from .routes import ApiSettings, make_blueprint

__all__ = ["ApiError", "ApiSettings", "register_api", "register_metrics", "register_notifications"]


def register_api(server: Flask, monitor: Monitor, settings: ApiSettings) -> None:
    register_error_handlers(server)
    register_body_guards(server)  # Dash's own POST routes get the API's body limits
    server.register_blueprint(make_blueprint(monitor, settings))


def register_notifications(server: Flask, delivery: Delivery, silences: Silences, api_token: str | None = None) -> None:
    """/api/silences and /api/notifications ; call after ``register_api``, which installs the JSON errors."""
    server.register_blueprint(make_notifications_blueprint(delivery, silences, api_token))
