"""Durable jobs: job and task state in the relational database, work through a queue."""
