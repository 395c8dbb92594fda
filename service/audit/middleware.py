"""One audit entry per request by staff (whatever its status) and per failed authentication.

When the answer's status is known, before its first byte leaves, the request's entry is handed to
the audit writer (service/audit/writer.py), which commits entries in batches off the request's
path. If the writer's backlog is full (the log cannot be written), the caller gets 503 instead of
the answer: nothing is answered that could not be recorded. Administrative routes write their own
entry, with what they changed, in the transaction of the change (request.state.audited); a 5xx
means that transaction rolled back, and then the failure is recorded here instead.
"""

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.audit.service import ANONYMOUS, Actor
from service.auth.service import Staff
from service.errors import error_response

logger = logging.getLogger("hj1321")

_QUERY_VALUE_CHARS = 200


def staff_actor(staff: Staff) -> Actor:
    return Actor(type="staff", id=staff.token_id, name=staff.name, role=staff.role, region_code=staff.region_prefix)


def _query(scope: Scope) -> dict[str, str]:
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {name[:64]: value[:_QUERY_VALUE_CHARS] for name, value in pairs}


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, retry_after_seconds: int) -> None:
        self.app = app
        self.retry_after_seconds = retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_after_audit(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the answer was refused for want of its audit entry; the rest of it goes nowhere
            if message["type"] == "http.response.start" and not await self._record(scope, message["status"]):
                replaced = True
                refusal = error_response(503, "audit_unavailable",
                                         "the audit log cannot be written now; nothing was answered, retry later",
                                         None, {"Retry-After": str(self.retry_after_seconds)})
                await refusal(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, send_after_audit)

    async def _record(self, scope: Scope, status: int) -> bool:
        """Hand the entry this request needs, if any, to the writer; False when it cannot take it."""
        state: dict[str, Any] = scope.get("state") or {}
        staff: Staff | None = state.get("staff")
        if staff is None and status != 401:
            return True  # gateways' own traffic is counted in metrics and stored as data
        if state.get("audited") and status < 500:
            return True  # written with the change it records
        if scope["app"].state.audit_writer.submit(request_entry(scope, status, staff)):
            return True
        logger.warning("audit backlog full: a staff request is refused")
        return False


def request_entry(scope: Scope, status: int, staff: Staff | None) -> dict[str, Any]:
    """The entry of one request: who, which operation on what, with which parameters, and the outcome."""
    state: dict[str, Any] = scope.get("state") or {}
    route = scope.get("route")
    action = state.get("audit_action") or f"{scope['method']} {getattr(route, 'path', None) or scope['path']}"
    client = scope.get("client")
    return {"actor": staff_actor(staff) if staff is not None else ANONYMOUS, "action": action, "status": status,
            "at": datetime.now(UTC), "target": state.get("audit_target"),
            "target_region": state.get("audit_target_region"), "query": _query(scope), "rows": state.get("audit_rows"),
            "client_ip": client[0] if client else None, "request_id": state.get("request_id")}


def note(request: Request, *, rows: int | None = None, target: str | None = None,
         target_region: str | None = None) -> None:
    """What a route knows that its audit entry should say (rows returned, the resource it concerns)."""
    if rows is not None:
        request.state.audit_rows = rows
    if target is not None:
        request.state.audit_target = target
    if target_region is not None:
        request.state.audit_target_region = target_region


def counted(request: Request, answer: dict[str, Any]) -> dict[str, Any]:
    """An answer with `items`, after noting how many records it returns for its audit entry."""
    note(request, rows=len(answer["items"]))
    return answer


def audit_action(request: Request, name: str) -> None:
    """The action an administrative request's one audit entry names: written by its service with the
    change, or, if the request fails first, by the middleware with the failure."""
    request.state.audit_action = name


def audited(request: Request) -> None:
    """The request's entry was written with its change: the middleware writes none unless it fails after."""
    request.state.audited = True
