"""Background jobs: the queue, the worker's runner, and the kinds of work crm_core runs there."""
