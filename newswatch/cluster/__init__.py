"""One deployment on many processes and machines: `newswatch run --roles …` (PostgreSQL).

    roles.py      the role names and how `--roles` is read
    engine.py     the distributed engine: Procrastinate, its jobs in the deployment's database
    election.py   exactly one active scheduler: a PostgreSQL advisory lock on its own connection
    processes.py  the `processes` heartbeat rows, abandoned polls, queue depth (`newswatch status`)
    node.py       what one process does for its roles, wired into newswatch.service.Service

See ClusterNode (node.py) for the guarantees and how each is kept.
"""
