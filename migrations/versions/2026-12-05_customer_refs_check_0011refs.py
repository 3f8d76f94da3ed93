"""PostgreSQL: the bulk-written children of customers are checked against customers once per statement.

customer_index, customer_quality_flags, consent_events and consent_state each had a foreign key
customer_id -> customers.id, so PostgreSQL ran one referential-integrity trigger (an index probe and a
row lock on the customer, through SPI) for every inserted row: with ~10 such rows per imported customer,
about 40% of the server's CPU in a bulk import (114 -> 62 us per customer without them, same run).
The same refusals, enforced by triggers instead:

- inserts: a statement-level AFTER INSERT trigger over the statement's new rows (a transition table)
  locks the named customers FOR KEY SHARE, as the foreign key did, once per customer rather than once
  per row, and raises SQLSTATE 23503 (foreign_key_violation) if any is missing;
- a child's customer_id changed by an UPDATE: a row trigger (only when it changes) does the same;
- customers deleted: a statement-level AFTER DELETE trigger refuses (23503) while consent events or
  states name them (the foreign keys' NO ACTION) and deletes their blind-index and quality-flag rows
  (ON DELETE CASCADE); a customer id changed while any of the four tables names it is refused.

SQLite keeps its foreign keys: there a check is a cheap probe inside the same statement (turning them
off for an import did not change its CPU per customer).

Revision ID: 0011refs
Revises: 0010subjects
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0011refs"
down_revision = "0010subjects"
branch_labels = None
depends_on = None

#: (table, foreign key, ON DELETE of the foreign key)
CHILDREN = (
    ("customer_index", "fk_customer_index_customer_id_customers", "CASCADE"),
    ("customer_quality_flags", "fk_customer_quality_flags_customer_id_customers", "CASCADE"),
    ("consent_events", "fk_consent_events_customer_id_customers", None),
    ("consent_state", "fk_consent_state_customer_id_customers", None),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION vault_customer_refs_exist() RETURNS trigger AS $$
        DECLARE
            wanted bigint;
            found bigint;
        BEGIN
            SELECT count(DISTINCT customer_id) INTO wanted FROM new_rows;
            SELECT count(*) INTO found FROM (
                SELECT 1 FROM customers AS c WHERE c.id IN (SELECT customer_id FROM new_rows) FOR KEY SHARE OF c
            ) AS locked;
            IF found <> wanted THEN
                RAISE EXCEPTION 'insert on table "%" names customers that do not exist', TG_TABLE_NAME
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE FUNCTION vault_customer_ref_exists() RETURNS trigger AS $$
        BEGIN
            PERFORM 1 FROM customers AS c WHERE c.id = NEW.customer_id FOR KEY SHARE OF c;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'update on table "%" names a customer that does not exist', TG_TABLE_NAME
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE FUNCTION vault_customers_deleted() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM consent_events AS e JOIN old_rows AS o ON e.customer_id = o.id)
               OR EXISTS (SELECT 1 FROM consent_state AS s JOIN old_rows AS o ON s.customer_id = o.id) THEN
                RAISE EXCEPTION 'delete on table "customers" leaves consent records without their customer'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            DELETE FROM customer_index WHERE customer_id IN (SELECT id FROM old_rows);
            DELETE FROM customer_quality_flags WHERE customer_id IN (SELECT id FROM old_rows);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE FUNCTION vault_customer_id_kept() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM customer_index WHERE customer_id = OLD.id)
               OR EXISTS (SELECT 1 FROM customer_quality_flags WHERE customer_id = OLD.id)
               OR EXISTS (SELECT 1 FROM consent_events WHERE customer_id = OLD.id)
               OR EXISTS (SELECT 1 FROM consent_state WHERE customer_id = OLD.id) THEN
                RAISE EXCEPTION 'update on table "customers" changes the id of a customer other rows name'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table, fk, _ in CHILDREN:
        op.execute(f"CREATE TRIGGER {table}_customer_exists AFTER INSERT ON {table} REFERENCING NEW TABLE AS "
                   "new_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_customer_refs_exist()")
        op.execute(f"CREATE TRIGGER {table}_customer_kept AFTER UPDATE OF customer_id ON {table} FOR EACH ROW "
                   "WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id) "
                   "EXECUTE FUNCTION vault_customer_ref_exists()")
        op.drop_constraint(fk, table, type_="foreignkey")
    op.execute("CREATE TRIGGER customers_children_deleted AFTER DELETE ON customers REFERENCING OLD TABLE AS old_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION vault_customers_deleted()")
    op.execute("CREATE TRIGGER customers_id_kept AFTER UPDATE OF id ON customers FOR EACH ROW "
               "WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION vault_customer_id_kept()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS customers_id_kept ON customers")
    op.execute("DROP TRIGGER IF EXISTS customers_children_deleted ON customers")
    for table, fk, on_delete in CHILDREN:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_customer_kept ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_customer_exists ON {table}")
        op.create_foreign_key(fk, table, "customers", ["customer_id"], ["id"], ondelete=on_delete)
    for function in ("vault_customer_id_kept", "vault_customers_deleted", "vault_customer_ref_exists",
                     "vault_customer_refs_exist"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
