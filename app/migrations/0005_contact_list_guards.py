"""The database keeps a running campaign's contacts: two guards, on SQLite and PostgreSQL.

``campaign.contact_list_id`` is nullable with ON DELETE RESTRICT, but a delete
that first nulls the key (peewee's ``delete_instance(recursive=True)``, which
Flask-Admin's delete uses) slipped past the RESTRICT and took the contacts,
their dial states and attempts with it. So:

- ``campaign_keeps_its_contact_list``: a campaign past DRAFT and not CLOSED
  cannot change (or lose) its contact list; a DRAFT may choose another, and a
  CLOSED one may forget it (its results keep the phones).
- ``contact_in_use_stays``: no contact of a list that such a campaign uses can
  be deleted, one by one or all at once.

The FK's RESTRICT still refuses a real DELETE of a list any campaign names.
Both raise an integrity error (SQLite ``RAISE(ABORT)``, PostgreSQL SQLSTATE
23001 restrict_violation), which peewee maps to ``IntegrityError``.
"""

from app.migrations import dialect

# the states in which a campaign has no dial rows built from its list's contacts
FREE_STATES = "('DRAFT', 'CLOSED')"

# RAISE takes one string literal on SQLite (no ||).
SQLITE = (
    f"""CREATE TRIGGER "campaign_keeps_its_contact_list"
BEFORE UPDATE OF "contact_list_id" ON "campaign" FOR EACH ROW
WHEN OLD."state" NOT IN {FREE_STATES} AND OLD."contact_list_id" IS NOT NEW."contact_list_id"
BEGIN
  SELECT RAISE(ABORT, 'campaign_keeps_its_contact_list: a campaign keeps its list until CLOSED');
END""",
    f"""CREATE TRIGGER "contact_in_use_stays"
BEFORE DELETE ON "contact" FOR EACH ROW
WHEN EXISTS (SELECT 1 FROM "campaign" WHERE "contact_list_id" = OLD."contact_list_id"
             AND "state" NOT IN {FREE_STATES})
BEGIN
  SELECT RAISE(ABORT, 'contact_in_use_stays: a campaign dialing the list keeps its contacts');
END""",
)

# No "%" in these statements: psycopg2 would read it as a parameter.
POSTGRESQL = (
    """CREATE FUNCTION "campaign_keeps_its_contact_list"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
    MESSAGE = 'campaign_keeps_its_contact_list: campaign ' || OLD.id || ' is ' || OLD.state
      || ': a campaign keeps its contact list from its activation until it is CLOSED';
END
$$""",
    f"""CREATE TRIGGER "campaign_keeps_its_contact_list"
BEFORE UPDATE OF "contact_list_id" ON "campaign" FOR EACH ROW
WHEN (OLD."state" NOT IN {FREE_STATES}
      AND OLD."contact_list_id" IS DISTINCT FROM NEW."contact_list_id")
EXECUTE FUNCTION "campaign_keeps_its_contact_list"()""",
    # one check per statement over the deleted rows (a transition table), not
    # one per row: deleting a list of a million contacts stays one hash join
    f"""CREATE FUNCTION "contact_in_use_stays"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  used record;
BEGIN
  SELECT c.id, c.state, c.contact_list_id INTO used FROM "campaign" c
   WHERE c.state NOT IN {FREE_STATES}
     AND c.contact_list_id IN (SELECT g.contact_list_id FROM gone g)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
      MESSAGE = 'contact_in_use_stays: contact list ' || used.contact_list_id
        || ' is used by campaign ' || used.id || ' (' || used.state
        || '): its contacts cannot be deleted until the campaign is CLOSED';
  END IF;
  RETURN NULL;
END
$$""",
    """CREATE TRIGGER "contact_in_use_stays"
AFTER DELETE ON "contact" REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION "contact_in_use_stays"()""",
)


def upgrade(db):
    for statement in POSTGRESQL if dialect(db) == "postgresql" else SQLITE:
        db.execute_sql(statement)
