"""Appeals in the database: filing, the district's queue, the work on each, and corrections.

- `rows`: the appeal as stored, its mapping, and the workflow's errors.
- `filing`: filing, and linking a lab result the evidence names.
- `reading`: one appeal, a citizen's own, the queue.
- `moves`: claim, note, escalate, withdraw, resolve — one transaction each.
- `corrections`: the events a corrected decision writes into the person's history.
"""

from codesvc.service.appeals.filing import file
from codesvc.service.appeals.moves import add_note, claim, escalate, resolve, withdraw
from codesvc.service.appeals.reading import QueueQuery, dossiers, get, of_person, queue
from codesvc.service.appeals.rows import (
    QUEUE_MAX,
    Appeal,
    AppealInvalid,
    AppealNotFound,
    Corrections,
    Dossier,
    Filing,
    Note,
    TooManyAppeals,
    Transition,
    actor_of,
    policy,
)

__all__ = [
    "QUEUE_MAX",
    "Appeal",
    "AppealInvalid",
    "AppealNotFound",
    "Corrections",
    "Dossier",
    "Filing",
    "Note",
    "QueueQuery",
    "TooManyAppeals",
    "Transition",
    "actor_of",
    "add_note",
    "claim",
    "dossiers",
    "escalate",
    "file",
    "get",
    "of_person",
    "policy",
    "queue",
    "resolve",
    "withdraw",
]
