"""/docs (Swagger UI) and /redoc from files installed with the service, never a CDN: bureau networks
(政务外网) have no internet. The script and style files come from the fastapi-offline package."""

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/docs-static"
# The pages run the bundled scripts and an inline starter script of FastAPI's; nothing from another host.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
            "frame-ancestors 'none'")


def install_docs(app: FastAPI) -> None:
    """The app is built with docs_url=None and redoc_url=None; these pages replace FastAPI's CDN ones."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    app.mount(STATIC_URL, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-static")
    headers = {"Content-Security-Policy": DOCS_CSP}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} API",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js", swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayOperationId": True,
                                   "defaultModelsExpandDepth": 0, "tryItOutEnabled": False})
        page.headers.update(headers)
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url=openapi_url, title=f"{app.title} API",
                              redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{STATIC_URL}/favicon.png", with_google_fonts=False)
        page.headers.update(headers)
        return page
