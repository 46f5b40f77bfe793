"""The API's DynamoDB table: API keys, triage state and the audit trail.

One table, keyed ``pk``/``sk``, with a sparse index ``kind-index`` (``kind``,
``pk``) over the items that lists need:

| item | pk | sk | kind |
|---|---|---|---|
| API key | ``KEY#<id>`` | ``KEY`` | ``key`` |
| key name (keeps names unique) | ``KEYNAME#<name>`` | ``KEYNAME`` | |
| triage state of an alert | ``ALERT#<alert id>`` | ``STATE`` | ``triage`` |
| one audit record per change | ``ALERT#<alert id>`` | ``AUDIT#<version>`` | |

A triage change is one ``TransactWriteItems``: the state is written on
condition that its version is still the one the client read (If-Match), and
the audit record on condition that it does not exist yet. So two analysts
racing on one alert cannot both win, and every change has exactly one audit
record, written together with it or not at all.

Locally the table lives in the moto server (created by ``authpulse local up``
or on first use); in AWS the stack owns it and nothing here creates it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from authpulse_dagster.api import keys as keymod
from authpulse_dagster.api.triage import OPEN, TriageState
from authpulse_dagster.aws import aws_client
from authpulse_dagster.errors import AuthPulseError, ConfigError
from authpulse_dagster.settings import LOCAL, Settings

KIND_INDEX = "kind-index"
_ser = TypeSerializer()
_de = TypeDeserializer()


class StoreUnavailable(AuthPulseError):
    """DynamoDB (or the local moto server) did not answer."""

    exit_code = 4


class StaleWrite(AuthPulseError):
    """The triage state changed since the client read it (HTTP 412)."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scope: str
    hash: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class AuditRecord:
    alert_id: str
    version: int
    at: str
    by: str
    from_status: str
    to_status: str
    from_assignee: str | None
    to_assignee: str | None
    note: str | None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def table_definition(name: str) -> dict[str, Any]:
    """The ``CreateTable`` request; the CDK stack declares the same keys and index."""
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": KIND_INDEX,
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}, {"AttributeName": "pk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def ensure_table(settings: Settings) -> str:
    """Create the table in the local stack if it is missing (never in AWS: the stack owns it)."""
    table = settings.api_table
    if settings.env != LOCAL:
        return table
    client = aws_client("dynamodb", settings)
    with _reachable():
        try:
            client.describe_table(TableName=table)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            try:
                client.create_table(**table_definition(table))
            except ClientError as race:
                if _code(race) != "ResourceInUseException":
                    raise
            client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return table


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except BotoCoreError as exc:
        raise StoreUnavailable(
            f"the API's DynamoDB table is unreachable ({type(exc).__name__}); locally, start the stack with `authpulse local up`"
        ) from None


class Store:
    """Keys, triage state and audit records in one DynamoDB table."""

    def __init__(self, settings: Settings, client: Any = None):
        self.settings = settings
        self.table = settings.api_table
        self.client = client or aws_client("dynamodb", settings)

    # --- keys -------------------------------------------------------------------------

    def create_key(self, name: str, scope: str) -> tuple[ApiKey, str]:
        """Store a new key; returns it and the full token (the only time the token exists)."""
        if not keymod.NAME.match(name or ""):
            raise ConfigError(f"key name {name!r} must be 1-64 letters, digits, space, _ . @ - (starting with a letter or digit)")
        if scope not in keymod.SCOPES:
            raise ConfigError(f"scope {scope!r} must be one of: {', '.join(keymod.SCOPES)}")
        new = keymod.generate()
        key = ApiKey(key_id=new.key_id, name=name, scope=scope, hash=new.hash, created_at=now_iso())
        record = {"pk": f"KEY#{key.key_id}", "sk": "KEY", "kind": "key", "key_id": key.key_id, "name": name,
                  "scope": scope, "hash": key.hash, "created_at": key.created_at}
        with _reachable():
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Put": {"TableName": self.table, "Item": _item({"pk": f"KEYNAME#{name}", "sk": "KEYNAME", "key_id": key.key_id}),
                             "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Put": {"TableName": self.table, "Item": _item(record), "ConditionExpression": "attribute_not_exists(pk)"}},
                ])
            except ClientError as exc:
                if _code(exc) == "TransactionCanceledException":
                    raise ConfigError(f"an active key named {name!r} exists; revoke it first or pick another name") from None
                raise
        return key, new.token

    def get_key(self, key_id: str) -> ApiKey | None:
        with _reachable():
            item = self.client.get_item(TableName=self.table, Key=_item({"pk": f"KEY#{key_id}", "sk": "KEY"}), ConsistentRead=True).get("Item")
        return _key(_plain(item)) if item else None

    def list_keys(self) -> list[ApiKey]:
        return sorted((_key(i) for i in self._kind("key")), key=lambda k: (k.created_at, k.key_id))

    def revoke_key(self, name_or_id: str) -> ApiKey:
        """Revoke the active key with this name (or id); the name becomes free again."""
        key_id = self._key_id_of(name_or_id)
        with _reachable():
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Update": {"TableName": self.table, "Key": _item({"pk": f"KEY#{key_id}", "sk": "KEY"}),
                                "UpdateExpression": "SET revoked_at = :now",
                                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at)",
                                "ExpressionAttributeValues": _item({":now": now_iso()})}},
                ])
            except ClientError as exc:
                if _code(exc) == "TransactionCanceledException":
                    raise ConfigError(f"no active key {name_or_id!r}; see `authpulse api keys list`") from None
                raise
        key = self.get_key(key_id)
        assert key is not None
        with _reachable():
            self.client.delete_item(TableName=self.table, Key=_item({"pk": f"KEYNAME#{key.name}", "sk": "KEYNAME"}),
                                    ConditionExpression="key_id = :id", ExpressionAttributeValues=_item({":id": key_id}))
        return key

    def _key_id_of(self, name_or_id: str) -> str:
        with _reachable():
            item = self.client.get_item(TableName=self.table, Key=_item({"pk": f"KEYNAME#{name_or_id}", "sk": "KEYNAME"}),
                                        ConsistentRead=True).get("Item")
        if item:
            return str(_plain(item)["key_id"])
        key = self.get_key(name_or_id) if len(name_or_id) == 12 else None
        if key is None or not key.active:
            raise ConfigError(f"no active key {name_or_id!r}; see `authpulse api keys list`")
        return key.key_id

    # --- triage -----------------------------------------------------------------------

    def get_triage(self, alert_id: str) -> TriageState:
        with _reachable():
            item = self.client.get_item(TableName=self.table, Key=_item({"pk": f"ALERT#{alert_id}", "sk": "STATE"}),
                                        ConsistentRead=True).get("Item")
        return _triage(_plain(item)) if item else TriageState(alert_id=alert_id)

    def list_triage(self) -> list[TriageState]:
        """Every triaged alert (eventually consistent: the index lags a write by a moment)."""
        return [_triage(i) for i in self._kind("triage")]

    def update_triage(self, current: TriageState, new: TriageState, by: str, note: str | None) -> TriageState:
        """Write ``new`` (version = current + 1) and its audit record, if nobody wrote since ``current``."""
        version = current.version + 1
        at = now_iso()
        state = {
            "pk": f"ALERT#{new.alert_id}", "sk": "STATE", "kind": "triage", "alert_id": new.alert_id, "status": new.status,
            "assignee": new.assignee, "note": new.note, "version": version, "updated_at": at, "updated_by": by,
            "entity_type": new.entity_type, "entity": new.entity, "event_date": new.event_date, "reasons": list(new.reasons),
        }
        audit = {
            "pk": f"ALERT#{new.alert_id}", "sk": f"AUDIT#{version:010d}", "alert_id": new.alert_id, "version": version,
            "at": at, "by": by, "from_status": current.status, "to_status": new.status,
            "from_assignee": current.assignee, "to_assignee": new.assignee, "note": note,
        }
        if current.version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": _item({":v": current.version})}
        with _reachable():
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Put": {"TableName": self.table, "Item": _item(state), **condition}},
                    {"Put": {"TableName": self.table, "Item": _item(audit), "ConditionExpression": "attribute_not_exists(pk)"}},
                ])
            except ClientError as exc:
                if _code(exc) == "TransactionCanceledException":
                    raise StaleWrite(f"alert {new.alert_id} was changed by someone else; GET it again and retry") from None
                raise
        return _triage(state)

    def audit(self, alert_id: str) -> list[AuditRecord]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :audit)",
            "ExpressionAttributeValues": _item({":pk": f"ALERT#{alert_id}", ":audit": "AUDIT#"}),
        }
        with _reachable():
            while True:
                page = self.client.query(**kwargs)
                items += [_plain(i) for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [
            AuditRecord(alert_id=i["alert_id"], version=int(i["version"]), at=i["at"], by=i["by"], from_status=i["from_status"],
                        to_status=i["to_status"], from_assignee=i.get("from_assignee"), to_assignee=i.get("to_assignee"),
                        note=i.get("note"))
            for i in items
        ]

    def _kind(self, kind: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": KIND_INDEX, "KeyConditionExpression": "kind = :k",
            "ExpressionAttributeValues": _item({":k": kind}),
        }
        with _reachable():
            while True:
                page = self.client.query(**kwargs)
                items += [_plain(i) for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _key(item: dict[str, Any]) -> ApiKey:
    return ApiKey(key_id=item["key_id"], name=item["name"], scope=item["scope"], hash=item["hash"],
                  created_at=item["created_at"], revoked_at=item.get("revoked_at"))


def _triage(item: dict[str, Any]) -> TriageState:
    return TriageState(
        alert_id=item["alert_id"], status=item.get("status", OPEN), assignee=item.get("assignee"), note=item.get("note"),
        version=int(item.get("version", 0)), updated_at=item.get("updated_at"), updated_by=item.get("updated_by"),
        entity_type=item.get("entity_type"), entity=item.get("entity"), event_date=item.get("event_date"),
        reasons=tuple(item.get("reasons") or ()),
    )


def open_store(settings: Settings) -> Store:
    """The store, with its table created first (in local mode; the stack creates it in AWS).

    The caller points AWS clients at the local stack first (``local_stack.apply_local_environment``,
    at the entry point): this module is below ``local_stack``, which creates the table too.
    """
    ensure_table(settings)
    return Store(settings)
