// The schema migration the MLflow init container runs before every server start, so an image
// bump migrates the database. `mlflow db upgrade` only migrates an existing schema (its alembic
// history starts from tables the server creates), so on a fresh database it is skipped and the
// server creates the current schema itself on first start.

// The URL (with the database password) is read from the environment and handed to MLflow's own
// `mlflow db upgrade` command in-process: neither this process nor a child has it in argv.

/** Python run by the init container; the SQLAlchemy URL comes from MLFLOW_BACKEND_STORE_URI. Prints no secrets. */
export const DB_UPGRADE_SCRIPT = [
  'import os, sys, time',
  'import sqlalchemy as sa',
  'url = os.environ["MLFLOW_BACKEND_STORE_URI"]',
  'for attempt in range(30):',
  '    try:',
  '        tables = sa.inspect(sa.create_engine(url)).get_table_names()',
  '        break',
  '    except Exception as e:',
  '        print("database not reachable yet (%s), retrying" % type(e).__name__, flush=True)',
  '        time.sleep(5)',
  'else:',
  '    sys.exit("database not reachable after 30 attempts")',
  'if "alembic_version" not in tables:',
  '    print("fresh database: mlflow server creates the schema on first start", flush=True)',
  '    sys.exit(0)',
  'from mlflow.db import upgrade',
  'upgrade.main(args=[url], prog_name="mlflow db upgrade")',
].join('\n');
