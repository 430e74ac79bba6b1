"""REST API: a Flask blueprint on the Dash app's server, built around the one Monitor it is handed."""

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import MapAdapter

from detection import Monitor
from detection.delivery import Delivery
from detection.incident_actions import IncidentActions
from detection.silences import Silences

from .errors import ApiError, register_error_handlers
from .incident_actions import make_incident_actions_blueprint
from .ingest import Ingest, IngestFastPath
from .json_body import register_body_guards
from .metrics import register_metrics
from .notifications import make_notifications_blueprint
from .routes import ApiSettings, make_blueprint

__all__ = ["ApiError", "ApiSettings", "register_api", "register_incident_actions", "register_metrics",
           "register_notifications"]


# The blueprint's route for unknown /api/ paths (GET and POST); it must not hide a route's other methods.
CATCH_ALL_ENDPOINT = "api.not_found"
ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def register_api(server: Flask, monitor: Monitor, settings: ApiSettings, direct_below: int | None = None) -> None:
    """The REST API on ``server``. With ``direct_below``, accepted ingest POSTs whose answer is shorter than that
    many bytes are answered before Flask (``IngestFastPath``): give the size under which responses are not
    compressed, so that a client sees the same answer either way."""
    register_error_handlers(server)
    register_body_guards(server)  # Dash's own POST routes get the API's body limits
    ingest = Ingest(monitor, settings.api_token, settings.observe_ingest)
    server.register_blueprint(make_blueprint(monitor, settings, ingest))
    answer_wrong_methods(server)
    if direct_below is not None:
        server.wsgi_app = IngestFastPath(server.wsgi_app, ingest, direct_below)  # type: ignore[method-assign]


def _route_methods(adapter: MapAdapter, path: str) -> set[str]:
    """The methods of the API route at ``path``, leaving out the catch-all (empty when no route has the path)."""
    methods = set()
    for method in ROUTE_METHODS:
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != CATCH_ALL_ENDPOINT:
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return methods | {"OPTIONS"} if methods else methods


def answer_wrong_methods(server: Flask) -> None:
    """A method a route lacks is a JSON 405 whose Allow header lists the route's methods (RFC 9110), and OPTIONS
    lists the same; without this the catch-all answers 404 and Allow names the catch-all's GET and POST."""

    @server.before_request
    def _wrong_method():
        if (request.endpoint != CATCH_ALL_ENDPOINT and request.method != "OPTIONS"
                and not isinstance(request.routing_exception, MethodNotAllowed)):
            return None
        if not request.path.startswith("/api/"):
            return None
        allowed = _route_methods(server.url_map.bind_to_environ(request.environ), request.path)
        if not allowed:
            return None  # no such route: the catch-all's 404
        if request.method == "OPTIONS":
            return Response(status=200, headers={"Allow": ", ".join(sorted(allowed))})
        methods = sorted(allowed)
        raise MethodNotAllowed(methods, f"{request.method} is not allowed on {request.path}; use {', '.join(methods)}")


def register_notifications(server: Flask, delivery: Delivery, silences: Silences, api_token: str | None = None) -> None:
    """/api/silences and /api/notifications ; call after ``register_api``, which installs the JSON errors."""
    server.register_blueprint(make_notifications_blueprint(delivery, silences, api_token))


def register_incident_actions(server: Flask, actions: IncidentActions, api_token: str | None = None) -> None:
    """Acknowledge, note, label, list labels, prefill a silence; call after ``register_api`` (the JSON errors)."""
    server.register_blueprint(make_incident_actions_blueprint(actions, api_token))
