"""The platform's JSON API: one NinjaAPI, each app's router mounted under it."""

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from ninja import NinjaAPI

from config.middleware import ServiceBusy
from signin.api import router as auth_router

api = NinjaAPI(
    title="Counseling platform API",
    version="1",
    urls_namespace="api",
    openapi_url="/openapi.json",
    # Off in production unless DJANGO_API_DOCS asks for it.
    docs_url="/docs" if settings.API_DOCS else None,
)
api.add_router("/auth", auth_router)


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
