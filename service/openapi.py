"""How the API describes itself: stable operation ids, the tags with what each audience does there."""

from fastapi.routing import APIRoute

DESCRIPTION = """\
The receiving side of HJ 1321-2023 (重点行业移动源监管与核查技术指南): plants' gate systems (门禁)
upload their vehicle movements and ledgers here; the ecology-environment bureau reads, exports and
checks them.

Every call but the operations ones carries `Authorization: Bearer <credential>`: a gateway key
(`hjg_…`) for the gateway operations, a staff token (`hjs_…`) for the others. Errors always come as
`{"error": code, "message": text, "detail": …}`; the code is stable, the message names the Chinese item.
Times without an offset are Beijing time (UTC+8). Rates are `{"value", "numerator", "denominator"}`,
with a null value when there is no denominator."""

TAGS = [
    {"name": "gateway", "description": "门禁系统 Gateways, with their enterprise's key: upload records, ledgers, "
                                       "photos, manifests and heartbeats; read what to refuse at the barrier "
                                       "(管控措施, 超标车辆) and what to re-send (补传)."},
    {"name": "bureau", "description": "生态环境局 Bureau staff (viewer, admin) within their jurisdiction: records, "
                                      "figures, reports, exports, 核查 samples, alert findings."},
    {"name": "admin", "description": "管理 Admins within their jurisdiction: enterprises, gateway keys, staff "
                                     "tokens, grades, alerts, exemptions, the watch-list. Every change is audited."},
    {"name": "audit", "description": "审计 Auditors (等保 2.0): the tamper-evident audit log."},
    {"name": "operations", "description": "运维 Health, readiness and Prometheus metrics; no credential except "
                                          "the metrics token when one is set."},
]


def operation_id(route: APIRoute) -> str:
    """camelCase of the route function's name: postMovements, listMovements, emergencyViolations."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)
