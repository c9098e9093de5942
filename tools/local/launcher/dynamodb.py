"""DynamoDB: requests one at a time, cancelled transactions that change
nothing and keep streams reading, transactions that copy only the items
they name, and condition expressions lexed once."""

import threading


def dynamodb_one_at_a_time(args):
    """DynamoDB requests are applied one at a time, as DynamoDB is atomic per
    item (dynamodb/models/__init__.py:604-715: a failed transaction restores
    deep copies of whole tables, wiping concurrent writes). The lock covers
    one DynamoDB request and nothing else."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self):
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action


def cancelled_transactions_keep_streams(args):
    """A cancelled TransactWriteItems leaves each table it touched in place
    with its items as they were and no stream records of its own, not even
    for a moment, as DynamoDB does (dynamodb/models/__init__.py:604-715
    restores a deep copy of each whole table: its stream shard is swapped
    for a copy, so a shard iterator opened before reads a shard that never
    grows again, and the cancelled writes' stream records stay in that
    copy). A transaction's records are held until it commits: appended as
    moto writes them, they were there for a stream read to take while moto
    worked through the transaction (stream reads are not DynamoDB requests,
    which go one at a time), and once taken away the reader's iterator,
    past them, skipped as many records of later writes."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard

    held = threading.local()
    original_add = StreamShard.add

    def add(self, old, new):
        records = getattr(held, "records", None)
        if records is None:
            original_add(self, old, new)
        else:
            records.append((self, old, new))

    StreamShard.add = add
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        live = {}
        for item in transact_items:
            _, op = next(iter(item.items()))
            name = op.get("TableName") if isinstance(op, dict) else None
            if name in self.tables and name not in live:
                live[name] = self.tables[name]
        held.records = []
        try:
            result = original(self, transact_items)
        except Exception:
            held.records = None
            for name, table in live.items():
                restored = self.tables.get(name)
                if restored is not None and restored is not table:
                    table.items = restored.items
                self.tables[name] = table
            raise
        committed, held.records = held.records, None
        for shard, old, new in committed:
            original_add(shard, old, new)
        return result

    DynamoDBBackend.transact_write_items = transact_write_items


def transactions_copy_touched_items(args):
    """A TransactWriteItems keeps copies of the items it names, not of whole
    tables (dynamodb/models/__init__.py:608-615 deep-copies every table a
    transaction names before it starts, for each transaction: a quarter of
    moto's time in a burst by py-spy, growing with the reservations table).
    A cancelled one puts those items back as they were, so it still changes
    nothing (a speed-up only; its stream records are the concern of
    `cancelled-transactions-keep-streams`)."""
    import copy as copy_module

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    in_transaction = threading.local()

    class TablesKept:
        """moto's `copy` within its DynamoDB backend: inside a transaction
        a table's "copy" is the table itself (its items are kept below)."""

        def __getattr__(self, name):
            return getattr(copy_module, name)

        def deepcopy(self, value, memo=None):
            if getattr(in_transaction, "active", False) and isinstance(value, Table):
                return value
            return copy_module.deepcopy(value, memo)

    models.copy = TablesKept()

    def place(backend, item):
        """(table, hash, range) of the item one transaction entry names."""
        try:
            kind, op = next(iter(item.items()))
            table = backend.tables[op["TableName"]]
            attributes = op["Item"] if kind == "Put" else op["Key"]
            hash_value = DynamoType(attributes[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                range_value = DynamoType(attributes[table.range_key_attr])
            return table, hash_value, range_value
        except Exception:
            return None  # moto refuses this entry before it writes anything

    def held(table, hash_value, range_value):
        if range_value is None:
            return table.items.get(hash_value)
        return table.items.get(hash_value, {}).get(range_value)

    def put_back(table, hash_value, range_value, kept):
        if range_value is None:
            if kept is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = kept
        elif kept is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = kept

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        kept = []
        for item in transact_items[:100]:
            where = place(self, item)
            if where is not None:
                kept.append((where, copy_module.deepcopy(held(*where))))
        in_transaction.active = True
        try:
            return original(self, transact_items)
        except Exception:
            # Last first: an item named twice gets its first copy back.
            for where, item in reversed(kept):
                put_back(*where, item)
            raise
        finally:
            in_transaction.active = False

    models.DynamoDBBackend.transact_write_items = transact_write_items


def condition_expressions_lexed_once(args):
    """Each condition expression's text is split into tokens once, not at
    every request (dynamodb/comparisons.py:310-357 tries six regular
    expressions per token each time; every reservation's transaction and
    update carries the same few expressions). Tokens depend on the text
    alone and are never changed by the parse that follows, which takes them
    from a copy of the list (a speed-up only)."""
    import functools
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression

    @functools.lru_cache(maxsize=4096)
    def tokens_of(text):
        return tuple(original(ConditionExpressionParser(text, None, None)))

    def _lex_condition_expression(self):
        return deque(tokens_of(self.condition_expression))

    ConditionExpressionParser._lex_condition_expression = _lex_condition_expression
