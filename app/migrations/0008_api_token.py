"""API tokens: one row per token, only its SHA-256 stored (app.apitokens)."""

from app.migrations import dialect


def upgrade(db):
    postgres = dialect(db) == "postgresql"
    key = "SERIAL NOT NULL PRIMARY KEY" if postgres else "INTEGER NOT NULL PRIMARY KEY"
    stamp = "TIMESTAMP" if postgres else "DATETIME"
    db.execute_sql(
        f'CREATE TABLE "api_token" ("id" {key}, "user_id" INTEGER NOT NULL, '
        '"name" VARCHAR(100) NOT NULL, "prefix" VARCHAR(16) NOT NULL, '
        '"token_hash" VARCHAR(64) NOT NULL, "scope" VARCHAR(8) NOT NULL, '
        f'"created_at" {stamp} NOT NULL, "last_used_at" {stamp}, "revoked_at" {stamp}, '
        'FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)'
    )
    db.execute_sql('CREATE INDEX "api_token_user_id" ON "api_token" ("user_id")')
    db.execute_sql('CREATE UNIQUE INDEX "api_token_token_hash" ON "api_token" ("token_hash")')
