// The schema migration the MLflow init container runs before every server start, so an image
// bump migrates the database. `mlflow db upgrade` only migrates an existing schema (its alembic
// history starts from tables the server creates), so on a fresh database it is skipped and the
// server creates the current schema itself on first start.

/** Python run by the init container; argv[1] is the SQLAlchemy URL. Prints no secrets. */
export const DB_UPGRADE_SCRIPT = [
  'import subprocess, sys, time',
  'import sqlalchemy as sa',
  'url = sys.argv[1]',
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
  'sys.exit(subprocess.call(["mlflow", "db", "upgrade", url]))',
].join('\n');
