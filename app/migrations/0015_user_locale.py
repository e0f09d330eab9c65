"""The console's language per user: ``user.locale`` ("en", "es"; empty: the browser's)."""


def upgrade(db):
    db.execute_sql('ALTER TABLE "user" ADD COLUMN "locale" VARCHAR(8) NOT NULL DEFAULT \'\'')
