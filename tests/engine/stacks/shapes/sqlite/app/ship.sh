# The database file the image ships: migrated to head, two notes in it.
set -e
alembic upgrade head
python3 -c "
import sqlite3
db = sqlite3.connect('/app/data/notes.db')
db.executemany('INSERT INTO notes (title) VALUES (?)', [('first',), ('second',)])
db.commit()
"
