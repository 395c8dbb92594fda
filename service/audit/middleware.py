"""One audit entry per request by staff (whatever its status) and per failed authentication.

The entry is written, in a short transaction of its own, when the answer's status is known and
before its first byte leaves: if the entry cannot be written the caller gets 503 instead of the
answer, so nothing is read unrecorded. Administrative routes write their own entry, with what they
changed, in the transaction of the change (request.state.audited); a 5xx means that transaction
rolled back, and then the failure is recorded here instead.
"""

import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.audit import service
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
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                                         "the audit log could not be written; nothing was answered, retry later",
                                         None, {"Retry-After": "5"})
                await refusal(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, send_after_audit)

    async def _record(self, scope: Scope, status: int) -> bool:
        """Write the entry this request needs, if any; False when it could not be written."""
        state: dict[str, Any] = scope.get("state") or {}
        staff: Staff | None = state.get("staff")
        if staff is None and status != 401:
            return True  # gateways' own traffic is counted in metrics and stored as data
        if state.get("audited") and status < 500:
            return True
        route = scope.get("route")
        action = state.get("audit_action") or f"{scope['method']} {getattr(route, 'path', None) or scope['path']}"
        client = scope.get("client")
        app = scope["app"]
        try:
            async with app.state.sessionmaker() as session:
                await service.append(
                    session, actor=staff_actor(staff) if staff is not None else ANONYMOUS, action=action,
                    status=status, target=state.get("audit_target"), target_region=state.get("audit_target_region"),
                    query=_query(scope), rows=state.get("audit_rows"), client_ip=client[0] if client else None,
                    request_id=state.get("request_id"))
                await session.commit()
        except Exception as exc:
            logger.warning("audit entry not written: %s", type(exc).__name__)
            return False
        return True


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
