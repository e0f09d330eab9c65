"""python -m app.migrations sql sqlite|postgresql: print the models' DDL."""

import sys

from app.migrations import model_ddl

if len(sys.argv) != 3 or sys.argv[1] != "sql" or sys.argv[2] not in ("sqlite", "postgresql"):
    sys.exit("usage: python -m app.migrations sql sqlite|postgresql")
sys.stdout.write(model_ddl(sys.argv[2]))
