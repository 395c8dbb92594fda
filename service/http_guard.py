"""What every HTTP exchange gets, whatever route answers it: URLs PostgreSQL can store, and the
security headers that keep a browser from acting on what a gateway sent."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response

# Every answer: a browser must not guess a type (a JPEG-magic HTML file stays an image).
_EVERY_RESPONSE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
# API answers are data, never pages: nothing runs or frames them, and no shared workstation or proxy
# keeps a copy of a plant's records (the route may set its own Cache-Control).
_API_RESPONSE = [(b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; sandbox"),
                 (b"x-frame-options", b"DENY")]
_NO_STORE = (b"cache-control", b"no-store")


class HttpGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _EVERY_RESPONSE
                if is_api:
                    headers += _API_RESPONSE
                    if not any(name.lower() == b"cache-control" for name, _ in headers):
                        headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        # PostgreSQL text cannot hold NUL, and no identifier, code or plate contains one: refused here
        # once, rather than failing inside whichever statement the value would have reached.
        if "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
            response = error_response(400, "invalid_character", "the URL contains a NUL character (%00)")
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
