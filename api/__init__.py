"""REST API: a Flask blueprint on the Dash app's server, built around the one Monitor it is handed."""

from flask import Flask

from detection import Monitor

from .errors import ApiError, register_error_handlers
from .routes import ApiSettings, make_blueprint

__all__ = ["ApiError", "ApiSettings", "register_api"]


def register_api(server: Flask, monitor: Monitor, settings: ApiSettings) -> None:
    register_error_handlers(server)
    server.register_blueprint(make_blueprint(monitor, settings))
