"""API authentication: the bearer token of a staff member (`rathaus token BENUTZER`), checked in one query.

The API's routers declare `auth=TokenAuth()`; a valid token sets `request.user` and `request.membership` (with
its tenant), the same as a signed-in staff member's session does for the web (`TenantMiddleware`).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from ninja.security import HttpBearer

from .models import ApiToken, Membership, Tenant, hash_token


class TokenAuth(HttpBearer):
    openapi_description = "API-Token (`rathaus token BENUTZER`) als `Authorization: Bearer <token>`."

    def authenticate(self, request, token):
        found = token_login(token)
        if found is None:
            return None
        request.user, request.membership = found
        return found[1]


_TOKEN_SQL: dict[str, tuple] = {}


def _token_plan(conn):
    """The SQL of `token_login` and the models/fields it fills, built once per database vendor."""
    plan = _TOKEN_SQL.get(conn.vendor)
    if plan is None:
        user_model = get_user_model()
        parts = [(alias, model, [f for f in model._meta.concrete_fields])
                 for alias, model in (("u", user_model), ("m", Membership), ("te", Tenant))]
        qn = conn.ops.quote_name
        cols = ", ".join(f"{alias}.{qn(f.column)}" for alias, _model, fields in parts for f in fields)
        sql = (f"SELECT {cols} FROM {qn(ApiToken._meta.db_table)} t "
               f"JOIN {qn(user_model._meta.db_table)} u ON u.{qn(user_model._meta.pk.column)} = t.user_id "
               f"JOIN {qn(Membership._meta.db_table)} m ON m.user_id = t.user_id AND m.tenant_id = t.tenant_id "
               f"JOIN {qn(Tenant._meta.db_table)} te ON te.id = t.tenant_id "
               f"WHERE t.key_hash = %s AND t.revoked_at IS NULL AND u.is_active")
        # the ORM's converters per column (JSON text -> list, SQLite 0/1 -> bool, text -> datetime ...)
        convert = []
        i = 0
        for _a, model, fields in parts:
            for f in fields:
                col = f.get_col(model._meta.db_table)
                convs = conn.ops.get_db_converters(col) + col.get_db_converters(conn)
                if convs:
                    convert.append((i, col, convs))
                i += 1
        plan = _TOKEN_SQL[conn.vendor] = (sql, [(model, [f.attname for f in fields]) for _a, model, fields in parts],
                                          convert)
    return plan


def token_login(raw: str):
    """(user, membership) for a valid bearer token, else None: as `tenants.services.authenticate_token`
    (token not revoked, user active, membership in the token's tenant), in one query instead of two ORM
    queries; the membership comes with its tenant (and user) attached."""
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > 100:
        return None
    sql, models, convert = _token_plan(connection)
    with connection.cursor() as cur:
        cur.execute(sql, [hash_token(raw)])
        row = cur.fetchone()
    if row is None:
        return None
    row = list(row)
    for i, col, convs in convert:
        for conv in convs:
            row[i] = conv(row[i], col, connection)
    objs, i = [], 0
    for model, names in models:
        objs.append(model.from_db(connection.alias, names, row[i:i + len(names)]))
        i += len(names)
    user, membership, tenant = objs
    membership.tenant = tenant
    membership.user = user
    return user, membership
