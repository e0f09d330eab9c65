"""Sound files through the database, for PBX hosts that do not share MEDIA_DIR (app.pbx.media).

- ``media_file``: one row per file a dialplan plays (``app.pbx.tables.MediaFile``),
  its bytes included; empty here: the next activation records the files of the
  campaigns it renders from the activating host's MEDIA_DIR;
- ``pbx.media_dir``: the MEDIA_DIR its agent reported ("" until the agent starts).
"""

from app.migrations import dialect


def upgrade(db):
    postgres = dialect(db) == "postgresql"
    key = "SERIAL NOT NULL PRIMARY KEY" if postgres else "INTEGER NOT NULL PRIMARY KEY"
    stamp = "TIMESTAMP" if postgres else "DATETIME"
    blob = "BYTEA" if postgres else "BLOB"
    db.execute_sql(
        f'CREATE TABLE "media_file" ("id" {key}, "path" VARCHAR(500) NOT NULL, '
        '"sha256" VARCHAR(64) NOT NULL, "size" INTEGER NOT NULL, '
        f'"data" {blob} NOT NULL, "campaign_id" INTEGER NOT NULL, "created_at" {stamp} NOT NULL)'
    )
    db.execute_sql('CREATE UNIQUE INDEX "media_file_path" ON "media_file" ("path")')
    db.execute_sql('CREATE INDEX "media_file_campaign_id" ON "media_file" ("campaign_id")')
    db.execute_sql(
        'ALTER TABLE "pbx" ADD COLUMN "media_dir" VARCHAR(200) NOT NULL DEFAULT \'\'')
