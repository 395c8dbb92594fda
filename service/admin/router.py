"""/api/v1/admin: enterprises, gateway keys and staff tokens, for admins inside their jurisdiction."""

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service.admin import service
from service.admin.service import Acting
from service.audit.middleware import audit_action, audited, note, staff_actor
from service.auth.dependencies import AdminDep
from service.db import SessionDep
from service.errors import ADMIN_WRITE_ERRORS
from service.params import Text64, Text100, Text200

T = TypeVar("T")

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=ADMIN_WRITE_ERRORS)

Days = Annotated[float | None, Field(gt=0, le=3650, description="lifetime in days (fractions allowed)")]
EnterpriseCode = Annotated[str, Path(max_length=64, description="企业统一社会信用代码 enterprise code")]
KeyId = Annotated[str, Path(max_length=64, description="the key's public id, key_…")]
TokenId = Annotated[str, Path(max_length=64, description="the token's public id, tok_…")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnterpriseIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"code": "91130203MA0EXAMPLE", "name": "示范焦化有限公司", "regionCode": "130203", "industry": "coking"}]})

    code: Text64 = Field(examples=["91130203MA0EXAMPLE"])
    name: Text200 = Field(examples=["示范焦化有限公司"])
    regionCode: Text64 = Field(examples=["130203"])
    industry: Text64 = Field(default="", examples=["coking"])


class EnterpriseChange(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"disabled": True}]})

    name: Text200 | None = None
    industry: Text64 | None = None
    disabled: bool | None = Field(default=None, description="true: its keys stop working, its data stays")


class KeyIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"days": 365}]})

    days: Days = None


class StaffIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "唐山市局 张三", "role": "viewer", "regionCode": "1302", "days": 90}]})

    name: Text100 = Field(examples=["唐山市局 张三"])
    role: Text64 = Field(examples=["viewer"], description="viewer or admin")
    regionCode: Text64 = Field(default="", examples=["1302"])
    days: Days = None


class EnterpriseOut(BaseModel):
    code: str
    name: str
    regionCode: str
    industry: str
    disabled: bool
    disabledAt: str | None
    lastSeenAt: str | None
    keyCount: int | None = None


class IssuedOut(BaseModel):
    id: str
    secret: str = Field(description="shown this once; only its hash is kept")
    expiresAt: str | None


class EnterpriseCreated(BaseModel):
    enterprise: EnterpriseOut
    key: IssuedOut


class KeyOut(BaseModel):
    id: str
    createdAt: str | None
    expiresAt: str | None
    lastUsedAt: str | None
    revokedAt: str | None


class StaffOut(KeyOut):
    name: str
    role: str
    regionCode: str
    createdBy: str


class Items(BaseModel, Generic[T]):
    items: list[T]


def acting(request: Request, staff: AdminDep) -> Acting:
    client = request.client
    return Acting.admin(staff, staff_actor(staff), request_id=getattr(request.state, "request_id", None),
                        client_ip=client.host if client else None)


ActingDep = Annotated[Acting, Depends(acting)]


def _forget_credentials(request: Request) -> None:
    # This worker stops trusting what it cached at once; others within credential_cache_seconds.
    request.app.state.gateway_cache.clear()
    request.app.state.staff_cache.clear()


@router.get("/enterprises", response_model=Items[EnterpriseOut], summary="企业列表 Registered enterprises (admin)")
async def list_registered_enterprises(request: Request, who: ActingDep, session: SessionDep) -> Items[EnterpriseOut]:
    """Enterprises in the jurisdiction, with whether they are disabled and how many live keys they hold."""
    items = await service.list_enterprises(session, who)
    note(request, rows=len(items))
    return Items[EnterpriseOut](items=[EnterpriseOut(**item) for item in items])


@router.post("/enterprises", status_code=201, response_model=EnterpriseCreated,
             summary="注册企业 Register an enterprise")
async def create_enterprise(request: Request, who: ActingDep, body: EnterpriseIn,
                            session: SessionDep) -> EnterpriseCreated:
    """Register an enterprise (重点用车单位) in the jurisdiction; the answer carries its first gateway key."""
    audit_action(request, "enterprise.create")
    created = await service.create_enterprise(session, who, code=body.code, name=body.name,
                                              region_code=body.regionCode, industry=body.industry,
                                              now=datetime.now(UTC))
    audited(request)
    return EnterpriseCreated(**created)


@router.patch("/enterprises/{code}", response_model=EnterpriseOut,
              summary="修改或停用企业 Change or disable an enterprise")
async def change_enterprise(request: Request, who: ActingDep, code: EnterpriseCode, body: EnterpriseChange,
                            session: SessionDep) -> EnterpriseOut:
    """Rename, reclassify, disable or enable an enterprise; a disabled enterprise's keys stop working."""
    audit_action(request, "enterprise.update")
    changed = await service.change_enterprise(session, who, code=code, now=datetime.now(UTC), name=body.name,
                                              industry=body.industry, disabled=body.disabled)
    audited(request)
    _forget_credentials(request)
    return EnterpriseOut(**changed)


@router.get("/enterprises/{code}/keys", response_model=Items[KeyOut],
            summary="网关密钥列表 An enterprise's gateway keys")
async def list_keys(request: Request, who: ActingDep, code: EnterpriseCode, session: SessionDep) -> Items[KeyOut]:
    """The enterprise's gateway keys, live and revoked (never their secrets)."""
    keys = await service.list_keys(session, who, code=code)
    note(request, rows=len(keys), target=code)
    return Items[KeyOut](items=[KeyOut(**key) for key in keys])


@router.post("/enterprises/{code}/keys", status_code=201, response_model=IssuedOut,
             summary="签发网关密钥 Issue a gateway key")
async def issue_key(request: Request, who: ActingDep, code: EnterpriseCode, body: KeyIn,
                    session: SessionDep) -> IssuedOut:
    """Issue an additional gateway key; the earlier keys keep working until revoked."""
    audit_action(request, "key.create")
    issued = await service.issue_key(session, who, code=code, now=datetime.now(UTC), days=body.days)
    audited(request)
    return IssuedOut(**issued)


@router.delete("/enterprises/{code}/keys/{key_id}", status_code=204, response_class=Response,
               summary="吊销网关密钥 Revoke a gateway key")
async def revoke_key(request: Request, who: ActingDep, code: EnterpriseCode,
                     key_id: KeyId, session: SessionDep) -> Response:
    """Revoke that one key."""
    audit_action(request, "key.revoke")
    await service.revoke_keys(session, who, code=code, key_id=key_id, now=datetime.now(UTC))
    audited(request)
    _forget_credentials(request)
    return Response(status_code=204)


@router.get("/staff", response_model=Items[StaffOut], summary="工作人员令牌列表 Staff tokens")
async def list_staff(request: Request, who: ActingDep, session: SessionDep) -> Items[StaffOut]:
    """Staff tokens whose jurisdiction lies inside the caller's."""
    tokens = await service.list_staff(session, who)
    note(request, rows=len(tokens))
    return Items[StaffOut](items=[StaffOut(**token) for token in tokens])


@router.post("/staff", status_code=201, response_model=IssuedOut, summary="签发工作人员令牌 Issue a staff token")
async def issue_staff(request: Request, who: ActingDep, body: StaffIn, session: SessionDep) -> IssuedOut:
    """Issue a viewer or admin token inside the caller's jurisdiction (auditors only on the command line)."""
    audit_action(request, "staff.create")
    issued = await service.issue_staff(session, who, name=body.name, role=body.role, region_code=body.regionCode,
                                       now=datetime.now(UTC), days=body.days)
    audited(request)
    return IssuedOut(**issued)


@router.delete("/staff/{token_id}", status_code=204, response_class=Response,
               summary="吊销工作人员令牌 Revoke a staff token")
async def revoke_staff(request: Request, who: ActingDep, token_id: TokenId,
                       session: SessionDep) -> Response:
    """Revoke a staff token inside the caller's jurisdiction."""
    audit_action(request, "staff.revoke")
    await service.revoke_staff(session, who, token_id=token_id, now=datetime.now(UTC))
    audited(request)
    _forget_credentials(request)
    return Response(status_code=204)
