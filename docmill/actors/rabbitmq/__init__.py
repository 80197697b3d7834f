"""Everything that speaks RabbitMQ beyond Dramatiq's own broker: acknowledgements, batch publishing, queue
housekeeping (checks, consumer counts, dead messages) and the dead-lettered messages the ledger still waits for."""
