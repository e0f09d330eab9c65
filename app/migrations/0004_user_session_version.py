"""Users get a session version: sign-out and password change bump it, ending old cookies."""


def upgrade(db):
    db.execute_sql("ALTER TABLE \"user\" ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0")
