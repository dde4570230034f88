"""The one policy table: for every entity and action, how far each role reaches.

Deny by default: a role missing from an entry has no access. Scopes are ALL records, the
records of the principal's TEAM, the principal's OWN records, or NONE. A test fails when an
entity of the schema or a route of the API has no entry here.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    SALES_MANAGER = "sales_manager"
    SALES_REP = "sales_rep"
    MARKETER = "marketer"
    DATA_SCIENTIST = "data_scientist"
    MODEL_SERVICE = "model_service"


class Action(enum.StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"


class Scope(enum.IntEnum):
    """Ordered by reach, so the wider of two grants is `max`."""

    NONE = 0
    OWN = 1
    TEAM = 2
    ALL = 3


A, R, M, K, D, S = (
    Role.ADMIN,
    Role.SALES_MANAGER,
    Role.SALES_REP,
    Role.MARKETER,
    Role.DATA_SCIENTIST,
    Role.MODEL_SERVICE,
)
ALL, TEAM, OWN = Scope.ALL, Scope.TEAM, Scope.OWN
READ, CREATE, UPDATE, DELETE, EXPORT = Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE, Action.EXPORT

# Records owned through a contact or account (deals, tickets, activities, orders) follow the
# owner of that contact; `sales` roles reach what they or their team own.
_SALES_RECORD = {
    READ: {A: ALL, R: TEAM, M: OWN, K: ALL, S: ALL},
    CREATE: {A: ALL, R: TEAM, M: OWN},
    UPDATE: {A: ALL, R: TEAM, M: OWN},
    DELETE: {A: ALL, R: TEAM},
    EXPORT: {A: ALL, R: TEAM, K: ALL},
}
_CATALOGUE = {
    READ: {A: ALL, R: ALL, M: ALL, K: ALL, D: ALL, S: ALL},
    CREATE: {A: ALL},
    UPDATE: {A: ALL},
    DELETE: {A: ALL},
    EXPORT: {A: ALL, K: ALL, D: ALL},
}
_ADMIN_ONLY = {action: {A: ALL} for action in Action}
_APPEND_ONLY_LOG = {READ: {A: ALL}, CREATE: {}, UPDATE: {}, DELETE: {}, EXPORT: {A: ALL}}

POLICY: dict[str, dict[Action, dict[Role, Scope]]] = {
    "contact": _SALES_RECORD,
    "account": _SALES_RECORD,
    "deal": _SALES_RECORD,
    "deal_stage_change": {**_SALES_RECORD, UPDATE: {}, DELETE: {}},
    "ticket": _SALES_RECORD,
    "activity": {**_SALES_RECORD, UPDATE: {}},
    "order": _SALES_RECORD,
    "order_line": _SALES_RECORD,
    "product": _CATALOGUE,
    # Scores are read beside the record; scoring writes them (reps may re-score their own).
    "prediction": {
        READ: {A: ALL, R: TEAM, M: OWN, K: ALL, D: ALL, S: ALL},
        CREATE: {A: ALL, R: TEAM, M: OWN, D: ALL, S: ALL},
        UPDATE: {},
        DELETE: {A: ALL},
        EXPORT: {A: ALL, K: ALL, D: ALL},
    },
    # Challengers' scores: for those who judge models, never shown on a record.
    "shadow_prediction": {
        READ: {A: ALL, D: ALL, S: ALL},
        CREATE: {A: ALL, D: ALL, S: ALL},
        UPDATE: {},
        DELETE: {A: ALL},
        EXPORT: {A: ALL, D: ALL},
    },
    # Offers shown on the record follow the same rules as scores.
    "recommendation": {
        READ: {A: ALL, R: TEAM, M: OWN, K: ALL, D: ALL, S: ALL},
        CREATE: {A: ALL, R: TEAM, M: OWN, D: ALL, S: ALL},
        UPDATE: {},
        DELETE: {A: ALL},
        EXPORT: {A: ALL, K: ALL, D: ALL},
    },
    # Audiences: who may read contacts may read segments (members are filtered by reach);
    # marketers and admins define them.
    "segment": {
        READ: {A: ALL, R: TEAM, M: OWN, K: ALL, S: ALL},
        CREATE: {A: ALL, K: ALL},
        UPDATE: {},
        DELETE: {A: ALL, K: ALL},
        EXPORT: {A: ALL, K: ALL},
    },
    "segment_member": {READ: {A: ALL, R: TEAM, M: OWN, K: ALL, S: ALL}, CREATE: {}, UPDATE: {}, DELETE: {}, EXPORT: {}},
    # Consent travels with the contact; marketers read it to build lawful audiences.
    "consent": {**_SALES_RECORD, UPDATE: {}, DELETE: {}},
    # Erasing a person is an administrator's act, on the person's request.
    "erasure": {**_ADMIN_ONLY, UPDATE: {}},
    # Field definitions are schema: everyone reads them, admins change them.
    "custom_field": {**_CATALOGUE, DELETE: {}},
    # A person's rights over their data: a copy of everything held (export), and erasure (delete).
    "data_subject": {READ: {}, CREATE: {}, UPDATE: {}, DELETE: {A: ALL}, EXPORT: {A: ALL}},
    "user": {**_ADMIN_ONLY, READ: {A: ALL, R: TEAM}},
    "team": {**_ADMIN_ONLY, READ: {A: ALL, R: ALL, M: ALL, K: ALL, D: ALL}},
    # Every principal manages its own tokens; admins manage everyone's.
    "api_token": {
        READ: {A: ALL, R: OWN, M: OWN, K: OWN, D: OWN, S: OWN},
        CREATE: {A: ALL, R: OWN, M: OWN, K: OWN, D: OWN, S: OWN},
        UPDATE: {},
        DELETE: {A: ALL, R: OWN, M: OWN, K: OWN, D: OWN, S: OWN},
        EXPORT: {},
    },
    # The model registry (runs, champion alias): data scientists judge, promote and retrain.
    "model": {READ: {A: ALL, D: ALL}, CREATE: {A: ALL, D: ALL}, UPDATE: {A: ALL, D: ALL}, DELETE: {}, EXPORT: {}},
    # Background jobs: started by the routes that need them, followed by whoever asked.
    "job": {
        READ: {A: ALL, R: OWN, M: OWN, K: OWN, D: OWN, S: OWN},
        CREATE: {},
        UPDATE: {},
        DELETE: {},
        EXPORT: {},
    },
    "login_attempt": _APPEND_ONLY_LOG,
    # Sign-in counters: kept by the sign-in itself; administrators read them.
    "login_throttle": _APPEND_ONLY_LOG,
    "audit_event": _APPEND_ONLY_LOG,
    "audit_chain_head": _APPEND_ONLY_LOG,
    # Batch write-back bookkeeping: written by the scoring job itself, read by administrators.
    "write_back_run": _APPEND_ONLY_LOG,
    # Live scoring's outbox: written by the write that asks, drained by the worker; read by administrators.
    "rescore_request": _APPEND_ONLY_LOG,
    # The clock's work: written by the worker from its settings, shown on the Jobs page.
    "schedule": {
        READ: {A: ALL, R: ALL, M: ALL, K: ALL, D: ALL, S: ALL},
        CREATE: {},
        UPDATE: {},
        DELETE: {},
        EXPORT: {},
    },
}


class Visibility(enum.IntEnum):
    """How much of a sensitive field a role sees on records it may read."""

    HIDDEN = 0
    MASKED = 1
    FULL = 2


# Personal fields per entity: encrypted at rest and disclosed per role, in every output.
SENSITIVE_FIELDS: dict[str, tuple[str, ...]] = {"contact": ("email", "phone", "address", "notes")}

# Marketers reach audiences without reading addresses; data scientists and the model service
# work on features and ids only. Unknown roles see nothing.
FIELD_VISIBILITY: dict[Role, Visibility] = {
    A: Visibility.FULL,
    R: Visibility.FULL,
    M: Visibility.FULL,
    K: Visibility.MASKED,
    D: Visibility.HIDDEN,
    S: Visibility.HIDDEN,
}


def visibility_of(role: str) -> Visibility:
    try:
        return FIELD_VISIBILITY.get(Role(role), Visibility.HIDDEN)
    except ValueError:
        return Visibility.HIDDEN


# Table name -> policy entity, for the coverage test over the schema.
ENTITY_OF_TABLE: dict[str, str] = {
    "contacts": "contact",
    # A contact's history of stage and custom values: part of the contact, read and kept with it.
    "contact_changes": "contact",
    "accounts": "account",
    "deals": "deal",
    "deal_stage_history": "deal_stage_change",
    "tickets": "ticket",
    "activities": "activity",
    "orders": "order",
    "order_lines": "order_line",
    "products": "product",
    "predictions": "prediction",
    "current_scores": "prediction",
    # Why a model does not score a contact: shown where its score would be, to whoever reads scores.
    "population_states": "prediction",
    # What each scoring model is called: written with its scores, read wherever they are shown.
    "model_descriptions": "prediction",
    "shadow_predictions": "shadow_prediction",
    "recommendations": "recommendation",
    "segments": "segment",
    "segment_members": "segment_member",
    "consents": "consent",
    "erasures": "erasure",
    "custom_field_definitions": "custom_field",
    "users": "user",
    "teams": "team",
    "api_tokens": "api_token",
    "jobs": "job",
    "login_attempts": "login_attempt",
    "login_throttles": "login_throttle",
    "audit_events": "audit_event",
    "audit_chain_head": "audit_chain_head",
    "write_back_runs": "write_back_run",
    "rescore_requests": "rescore_request",
    "schedules": "schedule",
}


def scope_of(role: str, entity: str, action: Action) -> Scope:
    """How far `role` reaches for `action` on `entity`; NONE for anything not granted."""
    try:
        return POLICY[entity][action].get(Role(role), Scope.NONE)
    except (KeyError, ValueError):
        return Scope.NONE
