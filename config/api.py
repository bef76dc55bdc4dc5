"""The platform's JSON API: one NinjaAPI, each app's router mounted under it."""

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import django_auth

from audit.api import router as events_router
from config.middleware import ServiceBusy
from signin.api import router as auth_router
from signin.mfa_api import router as mfa_router

api = NinjaAPI(
    title="Counseling platform API",
    version="1",
    # Signed in, with the CSRF token for changes, unless an operation says
    # auth=None: a new app's calls are protected by default, and the docs'
    # "Try it out" sends the token (ninja adds it when the API's auth wants it).
    auth=django_auth,
    urls_namespace="api",
    openapi_url="/openapi.json",
    # Off in production unless DJANGO_API_DOCS asks for it.
    docs_url="/docs" if settings.API_DOCS else None,
)
api.add_router("/auth", auth_router)
api.add_router("/auth/events", events_router)
api.add_router("/auth/mfa", mfa_router)


@api.exception_handler(ServiceBusy)
def busy(request, exc):
    response = api.create_response(
        request,
        {"error": exc.message},
        status=HTTPStatus.SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc):
    return api.create_response(
        request,
        {"error": "request body too large"},
        status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    )


# Every error of the API has one shape: {"error": "<short message>"}, and for
# invalid input "fields" naming each bad field (never the value sent). Errors
# raised before the API (Django's 404, 405, 400) get it from ApiErrorsMiddleware.
CSRF_REFUSED = "CSRF token missing or incorrect"


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    # A session over its idle or absolute limit says so, and a call wanting a
    # recent authentication (signin.reauth): the UI can tell why.
    expired = getattr(getattr(request, "session", None), "expired", False)
    if expired:
        message = "session expired"
    elif getattr(request, "mfa_user", None) is not None:  # mfa.middleware
        message = "second factor required"
    elif type(exc) is AuthenticationError:  # ninja's own: not signed in
        message = "authentication required"
    else:
        message = exc.message
    return api.create_response(
        request, {"error": message}, status=HTTPStatus.UNAUTHORIZED
    )


@api.exception_handler(ValidationError)
def invalid(request, exc):
    fields = {}
    for error in exc.errors:
        # ("body", "credentials", "username"): the parameter, then its field.
        where = [str(part) for part in error.get("loc", ())][1:]
        name = ".".join(where[1:]) if len(where) > 1 else "body"
        fields.setdefault(name, error.get("msg", "invalid"))
    return api.create_response(
        request,
        {"error": "invalid input", "fields": fields},
        status=HTTPStatus.UNPROCESSABLE_ENTITY,
    )


@api.exception_handler(HttpError)
def refused(request, exc):
    # ninja's own CSRF refusal and the sign-in's say the same.
    message = CSRF_REFUSED if exc.status_code == HTTPStatus.FORBIDDEN else str(exc)
    return api.create_response(request, {"error": message}, status=exc.status_code)
